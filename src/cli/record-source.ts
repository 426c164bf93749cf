/**
 * The one place that decides how an input is read, from its first bytes
 * whatever its name: plain text (lines/jsonl/csv/tsv, through RecordReader),
 * gzip or zstd text (decompressed as a stream into the same reader), Parquet,
 * or Arrow IPC. Every kind yields the same RecordBatch objects, so the route
 * job consumes them unchanged. bzip2, xz and zip are refused with a hint.
 */
import { open, stat } from 'node:fs/promises';
import { CliError, ioError } from './cli-errors.js';
import { firstRecordIndex, openInput, readerFor, type OpenedInput } from './input.js';
import { detectContainer, MAGIC_BYTES, type ContainerKind } from '../sources/magic.js';
import { decompress, isCompression, peekHead, type Compression } from '../sources/decompress.js';
import { formatFromPath, INPUT_FORMATS, type InputFormat, type RecordBatch } from '../sources/record-reader.js';
import type { ShardSpec } from '../sources/shard-range.js';
import { ParquetSource } from '../sources/parquet-source.js';
import { arrowBatches } from '../sources/arrow-source.js';
import { ConfigError } from '../errors.js';
import { CONTAINER_READERS, refuseContainer } from '../sources/container.js';

/** Every input format: the text ones and the columnar ones. */
export type SourceFormat = InputFormat | 'parquet' | 'arrow';
export const SOURCE_FORMATS: readonly SourceFormat[] = [...INPUT_FORMATS, 'parquet', 'arrow'];

/**
 * The container kinds this module reads. The refusal of containers (compressed
 * or columnar input read as text) must let these through to openRecordSource.
 */
export function readsContainer(kind: ContainerKind): boolean {
  return kind === 'gzip' || kind === 'zstd' || kind === 'parquet' || kind === 'arrow-file' || kind === 'arrow-stream';
}

// openInput's sniffing refuses every container without a reader; the kinds read here pass through it
// as they are, and openRecordSource decides (decompress, read the columns, or refuse a file-only format on stdin).
for (const kind of ['gzip', 'zstd', 'parquet', 'arrow-file', 'arrow-stream'] as const) CONTAINER_READERS[kind] = (raw) => raw;

export interface RecordSource {
  /** Name for messages ("stdin" for -). */
  name: string;
  format: SourceFormat;
  compression: Compression | null;
  /** Bytes to read when known (progress). */
  size: number | null;
  batches: AsyncIterable<RecordBatch>;
  /** csv/tsv: the header line, for shard files (known once the first batch is read). */
  headerRaw(): Uint8Array | null;
  /** --shard: the part's byte range and first record index (stats, merge-stats). */
  shard?: { startByte: number; endByte: number; firstIndex: number };
  /** Parquet input: the reader (the Parquet shard sink reads whole rows from it). */
  parquet?: ParquetSource;
  /** Plain (uncompressed) text: the opened input, whose bytes the parallel path reads itself instead of `batches`. */
  text?: OpenedInput;
}

export interface SourceOptions {
  format?: SourceFormat;
  field?: string;
  batchBytes: number;
  batchRecords: number;
}

const COMPRESSED_SUFFIX = /\.(gz|gzip|zst|zstd)$/i;

/** The format a file's name says, compressed or not (corpus.jsonl.gz is jsonl). */
export function sourceFormatFromPath(path: string | undefined): SourceFormat {
  if (path === undefined || path === '-') return 'lines';
  const bare = path.replace(COMPRESSED_SUFFIX, '');
  const lower = bare.toLowerCase();
  if (lower.endsWith('.parquet')) return 'parquet';
  if (lower.endsWith('.arrow') || lower.endsWith('.arrows') || lower.endsWith('.feather') || lower.endsWith('.ipc')) return 'arrow';
  return formatFromPath(bare);
}

const KIND_NAME: Record<ContainerKind, string> = {
  gzip: 'gzip-compressed',
  zstd: 'zstd-compressed',
  bzip2: 'bzip2-compressed',
  xz: 'xz-compressed',
  zip: 'a zip archive',
  parquet: 'a Parquet file',
  'arrow-file': 'an Arrow IPC file',
  'arrow-stream': 'an Arrow IPC stream',
  'utf8-bom': 'text',
  text: 'text',
};

async function fileHead(path: string): Promise<Uint8Array | null> {
  try {
    const st = await stat(path);
    if (!st.isFile()) return null;
    const fh = await open(path, 'r');
    try {
      const buf = new Uint8Array(MAGIC_BYTES);
      const { bytesRead } = await fh.read(buf, 0, MAGIC_BYTES, 0);
      return buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  } catch (err) {
    throw ioError('read input', path, err);
  }
}

function textSource(opened: OpenedInput, format: InputFormat, o: SourceOptions, keepRaw: boolean, compression: Compression | null, shard: ShardSpec | undefined): RecordSource {
  const reader = readerFor(opened, format, o, keepRaw);
  const range = opened.range;
  return {
    name: opened.name,
    format,
    compression,
    size: compression ? null : opened.size,
    batches: reader.batches(opened.source),
    headerRaw: () => reader.headerRaw,
    ...(compression === null ? { text: opened } : {}),
    ...(range && shard ? { shard: { startByte: range.start, endByte: range.end, firstIndex: firstRecordIndex(opened, format) } } : {}),
  };
}

/** Opens INPUT (a file, or stdin for - / none) as a source of record batches. */
export async function openRecordSource(input: string | undefined, o: SourceOptions, shard: ShardSpec | undefined, keepRaw: boolean): Promise<RecordSource> {
  if (input === '') throw new CliError('the input path is empty: give a file, or - for stdin');
  const path = input === undefined || input === '-' ? null : input;
  const name = path ?? 'stdin';
  // a regular file's head is read apart (a --shard part does not start at byte 0); a stream's is peeked
  const head = path === null ? null : await fileHead(path);
  if (head !== null && path !== null) {
    const input = path;
    const kind = detectContainer(head);
    const format = checkFormat(kind, o.format, input, name);
    if (kind === 'parquet') {
      const src = await ParquetSource.open({ path: input, field: o.field ?? 'text', batchBytes: o.batchBytes, batchRecords: o.batchRecords, ...(shard ? { shard } : {}) });
      const span = src.span;
      return {
        name,
        format: 'parquet',
        compression: null,
        size: null, // progress counts text bytes, which a compressed file size does not bound
        batches: src.batches(),
        headerRaw: () => null,
        parquet: src,
        ...(shard ? { shard: { startByte: span.startByte, endByte: span.endByte, firstIndex: span.firstRow } } : {}),
      };
    }
    if (kind === 'arrow-file' || kind === 'arrow-stream') {
      if (shard) throw new CliError(`--shard splits text files by byte ranges and Parquet files by row groups; ${name} is Arrow IPC: route it whole`);
      return arrowSource(name, o, { path: input });
    }
    if (isCompression(kind)) {
      if (shard) throw new CliError(`--shard cannot split ${name}: it is ${KIND_NAME[kind]}, and a compressed stream cannot be split by byte ranges; route it whole, or decompress it first`);
      const opened = await openInput(input, undefined, false);
      return compressedSource(opened, kind, format, o, keepRaw);
    }
    const opened = await openInput(input, shard, format === 'csv' || format === 'tsv');
    return textSource(opened, format as InputFormat, o, keepRaw, null, shard);
  }
  // stdin, a pipe or process substitution: peek at the stream
  const opened = await openInput(input, shard, false);
  const peeked = await peekHead(opened.source, MAGIC_BYTES);
  const kind = detectContainer(peeked.head);
  const format = checkFormat(kind, o.format, input, name);
  const stream: OpenedInput = { ...opened, source: peeked.source };
  if (kind === 'parquet') throw new CliError(`${name} is a Parquet file, which is read from a file (its index is at its end), not a stream: save it to a file and route that`);
  if (kind === 'arrow-file') throw new CliError(`${name} is an Arrow IPC file, which is read from a file (its index is at its end): route the file itself, or send the Arrow stream format`);
  if (kind === 'arrow-stream') return arrowSource(name, o, { stream: peeked.source });
  if (isCompression(kind)) return compressedSource(stream, kind, format, o, keepRaw);
  return textSource(stream, format as InputFormat, o, keepRaw, null, shard);
}

/** The format to read: --format if given (it must fit the bytes), else what the bytes and the name say. */
function checkFormat(kind: ContainerKind, asked: SourceFormat | undefined, input: string | undefined, name: string): SourceFormat {
  // bzip2, xz, zip: the one refusal, with its hint (src/sources/container.ts)
  if (kind === 'bzip2' || kind === 'xz' || kind === 'zip') throw refuseContainer(kind, name);
  const fromName = sourceFormatFromPath(input);
  if (kind === 'parquet' || kind === 'arrow-file' || kind === 'arrow-stream') {
    const is: SourceFormat = kind === 'parquet' ? 'parquet' : 'arrow';
    if (asked !== undefined && asked !== is) throw new CliError(`${name} is ${KIND_NAME[kind]}, not ${asked}: use --format ${is} --field COLUMN`);
    return is;
  }
  if (asked === 'parquet' || asked === 'arrow') throw new CliError(`${name} is not ${asked === 'parquet' ? 'a Parquet file' : 'Arrow IPC'} (its first bytes say ${KIND_NAME[kind]})`);
  if (asked !== undefined) return asked;
  if (fromName === 'parquet' || fromName === 'arrow') {
    throw new CliError(`${name} is named like ${fromName === 'parquet' ? 'a Parquet file' : 'Arrow IPC'} but its first bytes say ${KIND_NAME[kind]}; give --format to read it as text`);
  }
  return fromName;
}

async function compressedSource(opened: OpenedInput, kind: Compression, format: SourceFormat, o: SourceOptions, keepRaw: boolean): Promise<RecordSource> {
  const inner = await peekHead(decompress(opened.source, kind, opened.name), MAGIC_BYTES);
  const innerKind = detectContainer(inner.head);
  if (innerKind !== 'text' && innerKind !== 'utf8-bom') {
    throw new CliError(`${opened.name} is ${KIND_NAME[kind]} ${KIND_NAME[innerKind]}; decompress it first${innerKind === 'parquet' || innerKind.startsWith('arrow') ? ` and route the file with --format ${innerKind === 'parquet' ? 'parquet' : 'arrow'}` : ''}`);
  }
  return textSource({ name: opened.name, source: inner.source, size: null }, format as InputFormat, o, keepRaw, kind, undefined);
}

function arrowSource(name: string, o: SourceOptions, input: { path: string } | { stream: AsyncIterable<Uint8Array> }): RecordSource {
  return {
    name,
    format: 'arrow',
    compression: null,
    size: null,
    batches: prefixErrors(arrowBatches({ name, field: o.field ?? 'text', batchBytes: o.batchBytes, batchRecords: o.batchRecords, input }), name),
    headerRaw: () => null,
  };
}

async function* prefixErrors(batches: AsyncIterable<RecordBatch>, name: string): AsyncGenerator<RecordBatch> {
  try {
    yield* batches;
  } catch (err) {
    if (err instanceof ConfigError && !err.message.startsWith(name)) throw new ConfigError(`${name}: ${err.message}`);
    throw err;
  }
}
