/**
 * Benchmark corpora: seeded generated records (short, medium, long strings)
 * and the user's own file, as one packed batch in memory plus a file the CLI
 * can route. Generated records never hold LF or CR, so the file's lines are
 * exactly the in-memory records and the two can be compared record by record.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { ConfigError } from '../errors.js';
import type { PackedBatch } from '../model/packed-batch.js';
import { RecordReader, formatFromPath, type InputFormat } from '../sources/record-reader.js';
import { seededRandom } from '../dashboard/aggregates.js';

export type CorpusKind = 'short' | 'medium' | 'long' | 'file';
export const GENERATED_KINDS: readonly CorpusKind[] = ['short', 'medium', 'long'];

export interface BenchCorpus {
  name: string;
  kind: CorpusKind;
  /** The records, in input order. For a user's file: its first records, up to the sample limit. */
  batch: PackedBatch;
  /** A file the CLI routes (generated corpora: written by writeCorpusFile; user's: their file). */
  path: string | null;
  format: InputFormat;
  field?: string;
  /** True when `batch` holds every record of `path`. */
  complete: boolean;
}

/** Seeded PRNG (mulberry32, the dashboard's sampler's): the same corpus on every run and machine. */
export const seeded = seededRandom;

// Prose, code, numbers, symbols and several scripts, so every feature of the model moves; no LF, no CR.
const PIECES = [
  'the', 'a', 'router', 'Expert', 'of', 'and', 'QUIET', 'naïve', 'café', 'Straße', 'Ωμέγα', 'Привет', '東京', '机器学习', '한국어',
  'مرحبا', 'שלום', 'नमस्ते', '🙂', '👍🏽', '42', '3.14159', '0x7f', '2026-11-25', 'x = f(y);', 'if (a && b) {', '}', '=>', '->', '::',
  '"quoted"', "'single'", '\\n', '@#$%^&*', '()', '[i]', '<tag>', '\t', '  ', 'HTTP/2', 'a_b_c', 'camelCase', 'SELECT * FROM t;',
  '{"k": 1}', 'lorem', 'ipsum', 'dolor', 'sit', 'amet,', '—', '…', '\u00a0', '\u200b', '\x1b[0m', '\x00',
];

function text(r: () => number, pieces: number): string {
  let s = '';
  for (let i = 0; i < pieces; i++) s += (i > 0 && r() < 0.7 ? ' ' : '') + PIECES[Math.floor(r() * PIECES.length)];
  return s;
}

export interface GeneratedSizes {
  short: number;
  medium: number;
  long: number;
}

/** Records per generated corpus: a few MB each in quick mode, tens of MB otherwise. */
export const DEFAULT_SIZES: GeneratedSizes = { short: 1_000_000, medium: 20_000, long: 200 };
export const QUICK_SIZES: GeneratedSizes = { short: 50_000, medium: 2_000, long: 16 };

const SHAPES: Record<'short' | 'medium' | 'long', { seed: number; minPieces: number; maxPieces: number; describe: string }> = {
  short: { seed: 101, minPieces: 0, maxPieces: 8, describe: 'short strings (0-8 words)' },
  medium: { seed: 202, minPieces: 40, maxPieces: 400, describe: 'medium strings (40-400 words)' },
  long: { seed: 303, minPieces: 4_000, maxPieces: 40_000, describe: 'long strings (4k-40k words)' },
};

export function generateCorpus(kind: 'short' | 'medium' | 'long', records: number): BenchCorpus {
  const shape = SHAPES[kind];
  const r = seeded(shape.seed);
  const parts: Buffer[] = [];
  const offsets = new Uint32Array(records + 1);
  let total = 0;
  for (let i = 0; i < records; i++) {
    const b = Buffer.from(text(r, shape.minPieces + Math.floor(r() * (shape.maxPieces - shape.minPieces + 1))), 'utf8');
    parts.push(b);
    total += b.length;
    offsets[i + 1] = total;
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.length;
  }
  return { name: `${kind}: ${records} ${shape.describe}`, kind, batch: { bytes, offsets }, path: null, format: 'lines', complete: true };
}

/** Writes the records one per line (they hold no LF or CR) so the CLI reads back exactly these records. */
export async function writeCorpusFile(batch: PackedBatch, path: string): Promise<void> {
  const f = await open(path, 'w');
  try {
    const n = batch.offsets.length - 1;
    const chunk = Buffer.allocUnsafe(4 << 20);
    let used = 0;
    const flush = async (): Promise<void> => {
      if (used > 0) await f.write(chunk, 0, used);
      used = 0;
    };
    for (let i = 0; i < n; i++) {
      const s = batch.offsets[i];
      const e = batch.offsets[i + 1];
      if (e - s + 1 > chunk.length - used) await flush();
      if (e - s + 1 > chunk.length) {
        await f.write(batch.bytes.subarray(s, e));
        await f.write(Buffer.from('\n'));
        continue;
      }
      chunk.set(batch.bytes.subarray(s, e), used);
      used += e - s;
      chunk[used++] = 10;
    }
    await flush();
  } finally {
    await f.close();
  }
}

/**
 * The user's file through the router's own record reader (so the records are
 * the ones `route` sees), up to sampleBytes of text in memory; the CLI runs
 * route the whole file. A bad record is refused: a benchmark of error records
 * would measure nothing.
 */
export async function loadFileCorpus(path: string, o: { name?: string; format?: InputFormat; field?: string; sampleBytes: number }): Promise<BenchCorpus> {
  const format = o.format ?? formatFromPath(path);
  const reader = new RecordReader({ format, ...(o.field !== undefined ? { field: o.field } : {}), file: path, batchBytes: 8 << 20, batchRecords: 65536, keepRaw: false });
  const parts: PackedBatch[] = [];
  let bytes = 0;
  let records = 0;
  let complete = true;
  const stream = createReadStream(path, { highWaterMark: 1 << 20 });
  try {
    for await (const b of reader.batches(stream)) {
      const first = b.errors[0];
      if (first) throw new ConfigError(`${path}:${first.line}: ${first.message} (the benchmark needs a file without bad records)`);
      if (bytes >= o.sampleBytes) {
        complete = false;
        break;
      }
      parts.push(b.text);
      bytes += b.text.offsets[b.count] - b.text.offsets[0];
      records += b.count;
    }
  } finally {
    stream.destroy();
  }
  const all = new Uint8Array(bytes);
  const offsets = new Uint32Array(records + 1);
  let r = 0;
  let at = 0;
  for (const p of parts) {
    const n = p.offsets.length - 1;
    const base = p.offsets[0];
    all.set(p.bytes.subarray(base, p.offsets[n]), at);
    for (let i = 1; i <= n; i++) offsets[r + i] = at + p.offsets[i] - base;
    at += p.offsets[n] - base;
    r += n;
  }
  return {
    name: `file: ${o.name ?? path}${complete ? '' : ` (first ${records} records in memory)`}`,
    kind: 'file',
    batch: { bytes: all, offsets },
    path,
    format,
    ...(o.field !== undefined ? { field: o.field } : {}),
    complete,
  };
}

export function corpusBytes(c: BenchCorpus): number {
  return c.batch.offsets[c.batch.offsets.length - 1];
}

export function corpusRecords(c: BenchCorpus): number {
  return c.batch.offsets.length - 1;
}
