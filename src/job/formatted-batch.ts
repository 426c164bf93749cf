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
  /** One entry per record written; NO_EXPERT for an error record. */
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

export function toFormattedBatch(
  batch: RecordBatch,
  routing: BatchRoutingInfo | null,
  spec: OutputSpec,
  onError: 'fail' | 'skip',
  keepText: boolean,
  config: RouterConfig,
): FormattedBatch {
  const first = onError === 'fail' && batch.errors.length > 0 ? batch.errors[0] : null;
  const upTo = first ? first.local : batch.count;
  const t0 = performance.now();
  const { output, shards } = formatBatch(batch, routing, upTo, spec, config);
  const formatMs = performance.now() - t0;
  const experts = new Uint32Array(upTo);
  if (routing) experts.set(routing.experts.subarray(0, upTo));
  let errors = 0;
  for (const e of batch.errors) {
    if (e.local >= upTo) break;
    experts[e.local] = NO_EXPERT;
    errors++;
  }
  return {
    firstIndex: batch.firstIndex,
    records: upTo,
    inputBytes: batch.inputBytes,
    errors,
    experts,
    scoresQ16: routing ? routing.scoresQ16.slice(0, upTo) : new Uint32Array(upTo),
    confidenceQ16: routing ? routing.confidenceQ16.slice(0, upTo) : new Uint32Array(upTo),
    text: keepText ? batch.text : null,
    output,
    shards,
    backend: routing?.backend ?? 'none',
    adapter: routing?.adapter ?? '',
    fallback: routing?.fallback ?? false,
    failure: first ? { index: batch.firstIndex + first.local, line: first.line, message: first.message } : null,
    timings: { routeMs: routing?.routeMs ?? 0, formatMs },
  };
}
