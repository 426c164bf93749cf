/**
 * The formatter stage: a routed batch becomes bytes, its output records
 * (jsonl, csv or tsv) and, with --shards, one buffer per expert holding the
 * records unchanged. Pure: the main thread and the workers both run it.
 */
import type { RecordBatch } from '../sources/record-reader.js';
import { RecordFormatter, type OutputFormat } from './output-format.js';

export interface OutputSpec {
  format: OutputFormat;
  includeText: boolean;
  /** csv/tsv: add an `error` column (with --on-error skip). */
  errorColumn: boolean;
  /** Experts to write shard buffers for (0: no --shards). */
  shards: number;
  /** Shards hold the raw record bytes (jsonl/csv/tsv) rather than the text (lines). */
  rawShards: boolean;
}

/** Exact integer results of a batch, as every backend returns them. */
export interface Routed {
  experts: Uint32Array;
  scoresQ16: Uint32Array;
  confidenceQ16: Uint32Array;
}

export interface FormattedRecords {
  output: Uint8Array;
  /** One buffer per expert with --shards, else null. */
  shards: Uint8Array[] | null;
}

const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

export function outputHeader(spec: OutputSpec): string {
  return new RecordFormatter(spec).header();
}

/** Formats records [0, upTo) of a batch (`routing` is null when every record is an error record). */
export function formatBatch(batch: RecordBatch, routing: Routed | null, upTo: number, spec: OutputSpec): FormattedRecords {
  const f = new RecordFormatter(spec);
  const parts: string[] = [];
  let out = '';
  let nextErr = 0;
  const { bytes, offsets } = batch.text;
  for (let i = 0; i < upTo; i++) {
    const index = batch.firstIndex + i;
    if (nextErr < batch.errors.length && batch.errors[nextErr].local === i) {
      out += f.error(index, `line ${batch.errors[nextErr].line}: ${batch.errors[nextErr].message}`);
      nextErr++;
    } else {
      if (!routing) throw new Error('a batch with records was not routed');
      const text = spec.includeText ? decoder.decode(bytes.subarray(offsets[i], offsets[i + 1])) : undefined;
      out += f.record(index, routing.experts[i], routing.scoresQ16[i], routing.confidenceQ16[i], text);
    }
    // Short strings die young: peak memory stays low.
    if (out.length > 1 << 20) {
      parts.push(out);
      out = '';
    }
  }
  parts.push(out);
  return { output: Buffer.from(parts.join(''), 'utf8'), shards: spec.shards > 0 && routing ? shardBuffers(batch, routing, upTo, spec) : spec.shards > 0 ? [] : null };
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
