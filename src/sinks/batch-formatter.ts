/**
 * The formatter stage: a routed batch becomes bytes, its output records
 * (jsonl, csv or tsv) and, with --shards, one buffer per expert holding the
 * records unchanged. Pure: the main thread and the workers both run it.
 */
import type { ExpertModel } from '../model/expert-models.js';
import type { RouterConfig } from '../model/router-config.js';
import type { RecordBatch } from '../sources/record-reader.js';
import { RecordFormatter, TEXT_PIECE_BYTES, type OutputFormat } from './output-format.js';
import { RecordAnnotations } from './record-annotations.js';
import { ByteFormatter, ByteOutput, uninitializedBytes, type RunFormatter } from './byte-formatter.js';
import { WasmFormatter } from './wasm/wasm-formatter.js';
import { wasmAvailable } from '../wasm/instance.js';
import { CPU_KERNEL_ENV } from '../backends/cpu/cpu-backend.js';

export interface OutputSpec {
  format: OutputFormat;
  includeText: boolean;
  /** csv/tsv: add an `error` column (with --on-error skip). */
  errorColumn: boolean;
  /** Experts to write shard buffers for (0: no --shards). */
  shards: number;
  /** Shards hold the raw record bytes (jsonl/csv/tsv) rather than the text (lines). */
  rawShards: boolean;
  /** A model label per expert (config "models"): adds `model` to each routed record. */
  models: readonly ExpertModel[] | null;
  /** --explain: adds each record's top contributing feature (needs the records' statistics). */
  explain: boolean;
}

/** Exact integer results of a batch, as every backend returns them. */
export interface Routed {
  experts: Uint32Array;
  scoresQ16: Uint32Array;
  confidenceQ16: Uint32Array;
  /** Per-record statistics when the backend returned them (--explain). */
  stats?: Uint32Array;
}

export interface FormattedRecords {
  /** The output records' bytes, in order (several parts when a big text was written in pieces). */
  output: Uint8Array[];
  /** One buffer per expert with --shards, else null. */
  shards: Uint8Array[] | null;
}

const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

function formatterFor(spec: OutputSpec, config: RouterConfig): { f: RecordFormatter; annotations: RecordAnnotations | null } {
  const annotations = RecordAnnotations.create({ format: spec.format, models: spec.models, explain: spec.explain, config });
  return { f: new RecordFormatter({ ...spec, extraColumns: annotations?.columns ?? [] }), annotations };
}

export function outputHeader(spec: OutputSpec, config: RouterConfig): string {
  return formatterFor(spec, config).f.header();
}

/** Formats records [0, upTo) of a batch (`routing` is null when every record is an error record). */
export function formatBatch(batch: RecordBatch, routing: Routed | null, upTo: number, spec: OutputSpec, config: RouterConfig): FormattedRecords {
  const { f, annotations } = formatterFor(spec, config);
  const shards = spec.shards > 0 && routing ? shardBuffers(batch, routing, upTo, spec) : spec.shards > 0 ? [] : null;
  if (!annotations) return { output: formatBytes(batch, routing, upTo, spec), shards };
  if (annotations && routing) annotations.batch(batch.text, { count: batch.count, ...(routing.stats ? { stats: routing.stats } : {}) });
  const parts: Uint8Array[] = [];
  let out = '';
  const flush = (): void => {
    if (out !== '') parts.push(Buffer.from(out, 'utf8'));
    out = '';
  };
  let nextErr = 0;
  const { bytes, offsets } = batch.text;
  for (let i = 0; i < upTo; i++) {
    const index = batch.firstIndex + i;
    if (nextErr < batch.errors.length && batch.errors[nextErr].local === i) {
      out += f.error(index, `line ${batch.errors[nextErr].line}: ${batch.errors[nextErr].message}`);
      nextErr++;
    } else {
      if (!routing) throw new Error('a batch with records was not routed');
      const expert = routing.experts[i];
      if (spec.includeText && offsets[i + 1] - offsets[i] >= TEXT_PIECE_BYTES) {
        // A big text is written from its bytes in pieces: no JS string of its size (V8 stops at ~512 M characters).
        flush();
        const pieces = f.recordPieces(index, expert, routing.scoresQ16[i], routing.confidenceQ16[i], bytes.subarray(offsets[i], offsets[i + 1]), TEXT_PIECE_BYTES, annotations?.fragment(i, expert));
        for (const piece of pieces) parts.push(Buffer.from(piece, 'utf8'));
        continue;
      }
      out += f.record(index, expert, routing.scoresQ16[i], routing.confidenceQ16[i], spec.includeText ? decoder.decode(bytes.subarray(offsets[i], offsets[i + 1])) : undefined, annotations?.fragment(i, expert));
    }
    // Short strings die young: peak memory stays low.
    if (out.length > 1 << 20) flush();
  }
  flush();
  return { output: parts, shards };
}

const byteFormatters = new Map<string, { bytes: ByteFormatter; runs: RunFormatter }>();

/** The formatters of an output spec, made once per thread. MOE_ROUTER_CPU_KERNEL=js keeps all of it in JavaScript. */
function formattersFor(spec: OutputSpec): { bytes: ByteFormatter; runs: RunFormatter } {
  const key = `${spec.format}/${spec.includeText}/${spec.errorColumn}`;
  let f = byteFormatters.get(key);
  if (!f) {
    const options = { format: spec.format, includeText: spec.includeText, errorColumn: spec.errorColumn };
    const bytes = new ByteFormatter(options);
    let runs: RunFormatter = bytes;
    if (wasmAvailable() && process.env[CPU_KERNEL_ENV] !== 'js') {
      try {
        runs = new WasmFormatter(options);
      } catch {
        // a runtime that cannot compile the module (no SIMD, say) keeps the JavaScript formatter
      }
    }
    byteFormatters.set(key, (f = { bytes, runs }));
  }
  return f;
}

/** Memory for an output part of `bytes` bytes; a worker installs one that reuses the buffers the main thread gives back. */
export type PartAllocator = (bytes: number) => Uint8Array;
let allocatePart: PartAllocator = uninitializedBytes;

/** Sets (or, with null, resets) where this thread's output parts are copied to. */
export function setPartAllocator(allocate: PartAllocator | null): void {
  allocatePart = allocate ?? uninitializedBytes;
}

/** A copy in memory of its own (the part allocator's): a worker hands such a part over without copying it again. */
export function copyPart(chunk: Uint8Array): Uint8Array {
  const c = allocatePart(chunk.length);
  c.set(chunk);
  return c;
}

/**
 * The fast path of the formatter: records written as bytes into one reused
 * buffer (numbers from a table, texts escaped from their bytes), no JS string
 * per record. Same bytes as RecordFormatter (test/byte-formatter.test.ts).
 */
function formatBytes(batch: RecordBatch, routing: Routed | null, upTo: number, spec: OutputSpec): Uint8Array[] {
  const { bytes: bf, runs } = formattersFor(spec);
  const parts: Uint8Array[] = [];
  const { bytes, offsets } = batch.text;
  // Room for the whole batch as a rule (a record's fixed fields take at most 96 bytes, its text at most
  // 6 per byte when escaped), so that the buffer itself is the output: no copy. Past the estimate the
  // buffer is handed over in pieces, each copied. WasmFormatter's output areas skip the buffer: each is
  // copied once, by the sink, into a part of its own (which a worker then transfers as it is).
  const estimate = upTo * 96 + (spec.includeText ? Math.min(bytes.length * 2, 1 << 30) : 0) + 4096;
  const out = new ByteOutput((chunk) => parts.push(copyPart(chunk)), Math.min(estimate, 64 << 20));
  let from = 0;
  const run = (to: number): void => {
    if (to <= from) return;
    if (!routing) throw new Error('a batch with records was not routed');
    runs.records(out, {
      firstIndex: batch.firstIndex + from,
      count: to - from,
      experts: routing.experts.subarray(from, to),
      scoresQ16: routing.scoresQ16.subarray(from, to),
      confidenceQ16: routing.confidenceQ16.subarray(from, to),
      ...(spec.includeText ? { text: { bytes, offsets: offsets.subarray(from, to + 1) } } : {}),
    });
  };
  for (const e of batch.errors) {
    if (e.local >= upTo) break;
    run(e.local);
    bf.error(out, batch.firstIndex + e.local, `line ${e.line}: ${e.message}`);
    from = e.local + 1;
  }
  run(upTo);
  if (out.pos > 0) parts.push(out.buffer.subarray(0, out.pos));
  return parts;
}

/** Each routed record, unchanged (bytes without the line end, plus LF), in its expert's buffer, in input order. */
function shardBuffers(batch: RecordBatch, routing: Routed, upTo: number, spec: OutputSpec): Uint8Array[] {
  const src = spec.rawShards ? (batch.raw ?? batch.text) : batch.text;
  const n = spec.shards;
  const sizes = new Array<number>(n).fill(0);
  const isErr = new Uint8Array(upTo);
  for (const e of batch.errors) if (e.local < upTo) isErr[e.local] = 1;
  for (let i = 0; i < upTo; i++) {
    if (isErr[i]) continue;
    sizes[routing.experts[i]] += src.offsets[i + 1] - src.offsets[i] + 1;
  }
  const bufs = sizes.map((s) => Buffer.allocUnsafe(s));
  const at = new Array<number>(n).fill(0);
  for (let i = 0; i < upTo; i++) {
    if (isErr[i]) continue;
    const e = routing.experts[i];
    const s = src.offsets[i];
    const len = src.offsets[i + 1] - s;
    bufs[e].set(src.bytes.subarray(s, s + len), at[e]);
    at[e] += len;
    bufs[e][at[e]++] = 10;
  }
  return bufs;
}
