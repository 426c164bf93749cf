/** Opening the input: a file (whole, or one --shard part) or stdin, as byte chunks. */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { CliError, ioError } from './cli-errors.js';
import { readFirstLine, shardRange, type ShardRange, type ShardSpec } from '../sources/shard-range.js';
import { RecordReader, type InputFormat } from '../sources/record-reader.js';

export interface OpenedInput {
  /** Name for messages ("-" is "stdin"). */
  name: string;
  source: AsyncIterable<Uint8Array>;
  /** Bytes to read, when known (progress, ETA). */
  size: number | null;
  range?: ShardRange;
  /** csv/tsv: header of the file, for parts that do not start at byte 0. */
  csvHeader?: Uint8Array;
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
  if (path === undefined || path === '-') {
    if (shard) throw new CliError('--shard needs a file (it splits the file by byte ranges), not stdin');
    return { name: 'stdin', source: guarded(process.stdin, 'stdin'), size: null };
  }
  let size: number;
  try {
    const st = await stat(path);
    if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    if (!st.isFile()) {
      // a pipe, a device or process substitution (<(zcat corpus.gz)): read it to its end, size unknown
      if (shard) throw new CliError(`--shard needs a regular file (it splits the file by byte ranges); ${path} is not one`);
      return { name: path, source: guarded(createReadStream(path, { highWaterMark: CHUNK }), path), size: null };
    }
    size = st.size;
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw ioError('read input', path, err);
  }
  let range: ShardRange | undefined;
  let csvHeader: Uint8Array | undefined;
  try {
    if (shard) {
      range = await shardRange(path, size, shard);
      if (csv && range.start > 0) csvHeader = await readFirstLine(path);
    }
  } catch (err) {
    throw ioError('read input', path, err);
  }
  const start = range?.start ?? 0;
  const end = range?.end ?? size;
  // A stream even for an empty range, so an unreadable file is still reported.
  const stream =
    end > start
      ? createReadStream(path, { start, end: end - 1, highWaterMark: CHUNK })
      : createReadStream(path, { start: 0, end: 0, highWaterMark: CHUNK });
  const source = end > start ? stream : emptyAfterOpen(stream);
  return {
    name: path,
    source: guarded(source, path),
    size: end - start,
    ...(range ? { range } : {}),
    ...(csvHeader ? { csvHeader } : {}),
  };
}

async function* emptyAfterOpen(stream: AsyncIterable<Uint8Array> & { destroy(): void }): AsyncGenerator<Uint8Array> {
  // opens the file (errors surface), yields nothing
  for await (const _ of stream) break;
  stream.destroy();
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
export function readerFor(
  opened: OpenedInput,
  format: InputFormat,
  o: { field?: string; batchBytes: number; batchRecords: number },
  keepRaw: boolean,
): RecordReader {
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
  });
}

/**
 * Reads and parses a JSON file the user named (a config, a stats file):
 * "cannot read <what> <path>: ..." or "<what> <path>: invalid JSON: ...", exit 2.
 */
export async function readJsonFile(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw ioError(`read ${what}`, path, err);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new CliError(`${what} ${path}: invalid JSON: ${(err as Error).message}`);
  }
}
