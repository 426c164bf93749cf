/**
 * Opening the input: a file (whole, or one --shard part) or stdin, as byte chunks.
 *
 * - Every input is judged by its first bytes (src/sources/container.ts): a
 *   compressed or columnar file is refused with a hint, whatever its name.
 * - A whole file is read to its real end, not to the size seen at the start
 *   (/proc files say 0; a file may grow). A --shard part keeps the byte range
 *   computed at the start. Either way a regular file whose size changed while
 *   it was read gives a warning and `inputChanged` in --stats.
 */
import { createReadStream, fstatSync } from 'node:fs';
import { open, readFile, stat, type FileHandle } from 'node:fs/promises';
import { CliError, ioError, warn } from './cli-errors.js';
import { readFirstLine, shardRange, type ShardRange, type ShardSpec } from '../sources/shard-range.js';
import { RecordReader, type InputFormat } from '../sources/record-reader.js';
import { sniffInput } from '../sources/container.js';
import { MAGIC_BYTES } from '../sources/magic.js';
import type { InputChange } from '../job/run-stats.js';
import type { PositionedFile } from '../sources/line-ranges.js';

export interface OpenedInput {
  /** Name for messages ("-" is "stdin"). */
  name: string;
  source: AsyncIterable<Uint8Array>;
  /** Bytes to read, when known (progress, ETA). */
  size: number | null;
  range?: ShardRange;
  /** csv/tsv: header of the file, for parts that do not start at byte 0. */
  csvHeader?: Uint8Array;
  /** Set when the whole input has been read and the file's size differed from the one seen at the start. */
  changed?: InputChange;
  /**
   * A regular file, for readers that read it by positioned reads instead of
   * `source` (the parallel path's workers). Whoever uses it calls finish()
   * or close(); `source` is then never read.
   */
  positioned?: PositionedFile;
}

const CHUNK = 1 << 20;

async function* guarded(source: AsyncIterable<Uint8Array>, name: string): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of source) yield chunk;
  } catch (err) {
    throw ioError('read input', name, err);
  }
}

export async function openInput(path: string | undefined, shard: ShardSpec | undefined, csv: boolean): Promise<OpenedInput> {
  if (path === '') throw new CliError('the input path is empty: give a file, or - for stdin');
  if (path === undefined || path === '-') {
    if (shard) throw new CliError('--shard needs a file (it splits the file by byte ranges), not stdin');
    if (process.stdin.isTTY) warn('reading stdin from the terminal (end with Ctrl-D; give a file to route it)');
    return { name: 'stdin', source: await sniffInput(guarded(process.stdin, 'stdin'), 'stdin'), size: null };
  }
  let size: number;
  let fh: FileHandle | null = null;
  try {
    const st = await stat(path);
    if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    if (!st.isFile() && shard) throw new CliError(`--shard needs a regular file (it splits the file by byte ranges); ${path} is not one`);
    size = st.size;
    if (st.isFile()) fh = await open(path, 'r');
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw ioError('read input', path, err);
  }
  if (!fh) {
    // a pipe, a device or process substitution (<(zcat corpus.gz)): read it to its end, size unknown
    return { name: path, source: await sniffInput(guarded(createReadStream(path, { highWaterMark: CHUNK }), path), path), size: null };
  }
  try {
    let range: ShardRange | undefined;
    let csvHeader: Uint8Array | undefined;
    let head: Uint8Array;
    try {
      // the file's first bytes tell what it is, for every part of it
      const buf = Buffer.alloc(MAGIC_BYTES);
      const { bytesRead } = await fh.read(buf, 0, MAGIC_BYTES, 0);
      head = buf.subarray(0, bytesRead);
      if (shard) {
        range = await shardRange(path, size, shard);
        if (csv && range.start > 0) csvHeader = await readFirstLine(path);
      }
    } catch (err) {
      throw ioError('read input', path, err);
    }
    const opened: OpenedInput = { name: path, source: emptySource(), size: range ? range.end - range.start : size, ...(range ? { range } : {}), ...(csvHeader ? { csvHeader } : {}) };
    const onChange = (change: InputChange): void => {
      opened.changed = change;
      warn(
        `${path} changed size while it was read (${change.sizeAtStart} bytes at the start, ${change.sizeAtEnd} at the end; ${change.bytesRead} read${
          range ? ', --shard keeps the byte range computed at the start' : ''
        }): the output is what was read, not the file as it is now`,
      );
    };
    const chunks = fileChunks(fh, path, size, range, onChange);
    opened.source = await sniffInput(guarded(chunks, path), path, head);
    const handle = fh;
    opened.positioned = {
      fd: fh.fd,
      start: range?.start ?? 0,
      end: range?.end ?? null,
      size: () => fstatSync(handle.fd).size,
      finish: (bytesRead) => {
        const sizeAtEnd = fstatSync(handle.fd).size;
        if (sizeAtEnd !== size) onChange({ path, sizeAtStart: size, sizeAtEnd, bytesRead });
      },
      close: () => handle.close().catch(() => undefined),
    };
    return opened;
  } catch (err) {
    await fh.close().catch(() => undefined);
    throw err;
  }
}

async function* emptySource(): AsyncGenerator<Uint8Array> {
  // replaced once the input is sniffed
}

/**
 * The bytes of a regular file: to its real end (whole file) or [start, end)
 * of a --shard part; then the size is checked again on the same open file.
 */
async function* fileChunks(
  fh: FileHandle,
  path: string,
  sizeAtStart: number,
  range: ShardRange | undefined,
  onChange: (change: InputChange) => void,
): AsyncGenerator<Uint8Array> {
  try {
    let bytesRead = 0;
    const start = range?.start ?? 0;
    if (!range || range.end > start) {
      const stream = fh.createReadStream({ start, ...(range ? { end: range.end - 1 } : {}), highWaterMark: CHUNK, autoClose: false });
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        bytesRead += chunk.length;
        yield chunk;
      }
    }
    const sizeAtEnd = (await fh.stat()).size;
    if (sizeAtEnd !== sizeAtStart) onChange({ path, sizeAtStart, sizeAtEnd, bytesRead });
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** Index of the input's first record in the whole file (0 unless it is a --shard part). */
export function firstRecordIndex(opened: OpenedInput, format: InputFormat): number {
  const range = opened.range;
  if (!range) return 0;
  const isCsv = format === 'csv' || format === 'tsv';
  return isCsv && range.start > 0 ? range.linesBefore - 1 : range.linesBefore;
}

/**
 * The record reader for an opened input. For a --shard part, indexes and
 * line numbers continue from the records before the part (a csv/tsv part
 * past byte 0 has no header row of its own, hence one record fewer before it).
 */
export interface ReaderCliOptions {
  field?: string;
  batchBytes: number;
  batchRecords: number;
  /** --max-record-bytes (default DEFAULT_MAX_RECORD_BYTES). */
  maxRecordBytes?: number;
  /** --on-error: with fail the reader stops after the first bad record. */
  onError?: 'fail' | 'skip';
}

export function readerFor(opened: OpenedInput, format: InputFormat, o: ReaderCliOptions, keepRaw: boolean): RecordReader {
  const range = opened.range;
  return new RecordReader({
    format,
    ...(o.field !== undefined ? { field: o.field } : {}),
    file: opened.name,
    batchBytes: o.batchBytes,
    batchRecords: o.batchRecords,
    keepRaw,
    firstIndex: firstRecordIndex(opened, format),
    firstLine: (range?.linesBefore ?? 0) + 1,
    ...(opened.csvHeader ? { csvHeader: opened.csvHeader } : {}),
    atFileStart: !range || range.start === 0,
    ...(o.maxRecordBytes !== undefined ? { maxRecordBytes: o.maxRecordBytes } : {}),
    stopAtError: o.onError === 'fail',
  });
}

/**
 * Reads and parses a JSON file the user named (a config, a stats file):
 * "cannot read <what> <path>: ..." or "<what> <path>: invalid JSON: ...", exit 2.
 */
export async function readJsonFile(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    if (path === '') throw Object.assign(new Error('empty path'), { code: 'EMPTY_PATH' });
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw ioError(`read ${what}`, path, err);
  }
  // a UTF-8 BOM at byte 0 (Windows editors write one) is not JSON, but not content either
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new CliError(`${what} ${path}: invalid JSON: ${(err as Error).message}`);
  }
}
