/**
 * Every input (file, pipe, stdin) is judged by its first bytes, never by its
 * name: a compressed or columnar file split on LF bytes would be "routed" as
 * garbage with exit 0. `sniffInput` peeks at the first bytes, lets text
 * through (the peeked bytes are replayed, nothing is lost), and hands any
 * other kind to its reader in CONTAINER_READERS. Kinds without a reader are
 * refused with a hint (exit 2).
 *
 * The formats work plugs its decoders in here: set CONTAINER_READERS[kind]
 * to a function that turns the raw bytes into the decoded text bytes.
 */
import { UnsupportedInputError } from '../errors.js';
import { detectContainer, MAGIC_BYTES, type ContainerKind } from './magic.js';
import { formatFromPath } from './record-reader.js';

/** Kinds that are not plain text (a UTF-8 BOM is text: the record reader skips it). */
export type BinaryKind = Exclude<ContainerKind, 'text' | 'utf8-bom'>;

/** Turns the raw bytes of a container into text bytes (a decompressor, a column extractor). */
export type ContainerReader = (raw: AsyncIterable<Uint8Array>, name: string) => AsyncIterable<Uint8Array>;

/** Readers per kind; a kind missing here is refused by refuseContainer. */
export const CONTAINER_READERS: Partial<Record<BinaryKind, ContainerReader>> = {};

const DECOMPRESS: Partial<Record<BinaryKind, { what: string; cat: string }>> = {
  gzip: { what: 'gzip-compressed', cat: 'zcat' },
  zstd: { what: 'zstd-compressed', cat: 'zstdcat' },
  bzip2: { what: 'bzip2-compressed', cat: 'bzcat' },
  xz: { what: 'xz-compressed', cat: 'xzcat' },
  zip: { what: 'a zip archive', cat: 'unzip -p' },
};

const COLUMNAR: Partial<Record<BinaryKind, string>> = {
  parquet: 'a Parquet file',
  'arrow-file': 'an Arrow IPC file',
  'arrow-stream': 'an Arrow IPC stream',
};

/** The one-line refusal for a kind that has no reader: what the bytes are and what to do instead. */
export function refuseContainer(kind: BinaryKind, name: string): UnsupportedInputError {
  const shown = name === 'stdin' ? 'stdin' : name;
  const file = name === 'stdin' ? 'FILE' : name;
  const d = DECOMPRESS[kind];
  if (d) {
    // corpus.jsonl.gz -> the text inside is jsonl: say so, stdin defaults to lines
    const inner = name === 'stdin' ? 'lines' : formatFromPath(name.replace(/\.(gz|gzip|zst|zstd|bz2|xz|zip)$/i, ''));
    const format = inner === 'lines' ? '' : ` --format ${inner}`;
    return new UnsupportedInputError(
      kind,
      `${shown} is ${d.what} (its first bytes say so, whatever its name): moe-router reads text; decompress it into a pipe: ${d.cat} ${file} | moe-router route -${format}`,
    );
  }
  return new UnsupportedInputError(
    kind,
    `${shown} is ${COLUMNAR[kind] ?? kind} (its first bytes say so, whatever its name): this format is not supported yet; export the text column to JSONL or CSV and route that`,
  );
}

/**
 * Reads the first bytes of `source` (up to MAGIC_BYTES, fewer at the end of
 * a short input) and returns a source that yields every byte of the input,
 * the peeked ones included. Throws the refusal of a binary kind that has no
 * reader. `head` is given for a part of a file (--shard) whose kind is told
 * by the file's first bytes, not by the part's.
 */
export async function sniffInput(source: AsyncIterable<Uint8Array>, name: string, head?: Uint8Array): Promise<AsyncIterable<Uint8Array>> {
  const it = source[Symbol.asyncIterator]();
  const peeked: Uint8Array[] = [];
  let length = 0;
  let done = false;
  if (head === undefined) {
    while (length < MAGIC_BYTES) {
      const r = await it.next();
      if (r.done) {
        done = true;
        break;
      }
      if (r.value.length === 0) continue;
      peeked.push(r.value);
      length += r.value.length;
    }
  }
  const first = head ?? (peeked.length === 1 ? peeked[0] : Buffer.concat(peeked));
  const replayed = replay(peeked, it, done);
  const utf16 = utf16Bom(first);
  if (utf16) {
    await it.return?.();
    throw new UnsupportedInputError(
      utf16,
      `${name} is ${utf16 === 'utf16le' ? 'UTF-16LE' : 'UTF-16BE'} text (it starts with a UTF-16 byte order mark): moe-router reads UTF-8; convert it first: iconv -f ${utf16 === 'utf16le' ? 'UTF-16LE' : 'UTF-16BE'} -t UTF-8 ${name === 'stdin' ? 'FILE' : name} | moe-router route -`,
    );
  }
  const kind = detectContainer(first.subarray(0, MAGIC_BYTES));
  if (kind === 'text' || kind === 'utf8-bom') return replayed;
  const reader = CONTAINER_READERS[kind];
  if (!reader) {
    await it.return?.();
    throw refuseContainer(kind, name);
  }
  return reader(replayed, name);
}

/** A UTF-16 byte order mark (FF FE / FE FF): such text must be converted, not split on LF bytes. */
function utf16Bom(head: Uint8Array): 'utf16le' | 'utf16be' | null {
  if (head.length < 2) return null;
  if (head[0] === 0xff && head[1] === 0xfe) return 'utf16le';
  if (head[0] === 0xfe && head[1] === 0xff) return 'utf16be';
  return null;
}

async function* replay(peeked: Uint8Array[], it: AsyncIterator<Uint8Array>, done: boolean): AsyncGenerator<Uint8Array> {
  try {
    for (const p of peeked) yield p;
    if (done) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  } finally {
    // stops the underlying reader when the consumer stops early
    if (!done) await it.return?.();
  }
}
