/**
 * A batch after the formatter stage: what the job writes and tells its
 * listeners. The main thread (in-process path) and the workers (parallel
 * path) build it the same way, with toFormattedBatch.
 */
import type { PackedBatch } from '../model/packed-batch.js';
import type { RouterConfig } from '../model/router-config.js';
import type { RecordBatch } from '../sources/record-reader.js';
import { formatBatch, type OutputSpec, type Routed } from '../sinks/batch-formatter.js';
import { NO_EXPERT } from './events.js';

export interface FormattedBatch {
  /** Global index of the first record. */
  firstIndex: number;
  /** Records written (routed + error records); fewer than read when a bad record stops the run. */
  records: number;
  inputBytes: number;
  /** Error records among those written. */
  errors: number;
  /** Routed records per expert. */
  perExpert: Uint32Array;
  /**
   * One entry per record written; NO_EXPERT for an error record. Empty when the producer was asked
   * not to keep them (Keep.results: no listener reads them, and a worker need not send them).
   */
  experts: Uint32Array;
  scoresQ16: Uint32Array;
  confidenceQ16: Uint32Array;
  /** The records' text (for listeners), or null when nobody asked for it. */
  text: PackedBatch | null;
  /** Output bytes in order (usually one part). */
  output: Uint8Array[];
  shards: Uint8Array[] | null;
  backend: string;
  adapter: string;
  fallback: boolean;
  /** With onError 'fail': the bad record that stops the run (read, not written). */
  failure: { index: number; line: number; message: string } | null;
  timings: { routeMs: number; formatMs: number };
  /** The record batch itself, kept (in process only) for sinks that write whole rows (Parquet). */
  source?: RecordBatch;
}

export interface BatchRoutingInfo extends Routed {
  backend: string;
  adapter: string;
  fallback: boolean;
  routeMs: number;
}

/** What a formatted batch carries besides its output: for listeners (and row sinks), at a cost to send. */
export interface Keep {
  /** The records' text. */
  text: boolean;
  /** Each record's expert, score and confidence (perExpert is always there). */
  results: boolean;
}

export function toFormattedBatch(batch: RecordBatch, routing: BatchRoutingInfo | null, spec: OutputSpec, onError: 'fail' | 'skip', keep: Keep, config: RouterConfig): FormattedBatch {
  const first = onError === 'fail' && batch.errors.length > 0 ? batch.errors[0] : null;
  const upTo = first ? first.local : batch.count;
  const t0 = performance.now();
  const { output, shards } = formatBatch(batch, routing, upTo, spec, config);
  const formatMs = performance.now() - t0;
  let errors = 0;
  for (const e of batch.errors) {
    if (e.local >= upTo) break;
    errors++;
  }
  const perExpert = new Uint32Array(config.numExperts);
  let experts = new Uint32Array(0);
  if (routing) {
    const routed = routing.experts.subarray(0, upTo);
    if (errors === 0) for (let i = 0; i < upTo; i++) perExpert[routed[i]]++;
    else {
      const bad = new Uint8Array(upTo);
      for (let k = 0; k < errors; k++) bad[batch.errors[k].local] = 1;
      for (let i = 0; i < upTo; i++) if (bad[i] === 0) perExpert[routed[i]]++;
    }
    if (keep.results) experts = routed.slice();
  } else if (keep.results) experts = new Uint32Array(upTo);
  if (keep.results) for (let k = 0; k < errors; k++) experts[batch.errors[k].local] = NO_EXPERT;
  const results = (r: Uint32Array | undefined): Uint32Array => (!keep.results ? new Uint32Array(0) : r ? r.slice(0, upTo) : new Uint32Array(upTo));
  return {
    firstIndex: batch.firstIndex,
    records: upTo,
    inputBytes: batch.inputBytes,
    errors,
    perExpert,
    experts,
    scoresQ16: results(routing?.scoresQ16),
    confidenceQ16: results(routing?.confidenceQ16),
    text: keep.text ? batch.text : null,
    output,
    shards,
    backend: routing?.backend ?? 'none',
    adapter: routing?.adapter ?? '',
    fallback: routing?.fallback ?? false,
    failure: first ? { index: batch.firstIndex + first.local, line: first.line, message: first.message } : null,
    timings: { routeMs: routing?.routeMs ?? 0, formatMs },
  };
}
