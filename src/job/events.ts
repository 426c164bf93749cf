/**
 * What a route job tells its subscribers (progress bar, summary, --stats, the
 * dashboard, Hadoop counters): one event when it starts, one per batch written,
 * one at the end. Subscribers only read; they never change the run.
 */
import type { PackedBatch } from '../model/packed-batch.js';
import type { RunStats } from './run-stats.js';

/** `experts[i]` of a record that is an error record (bad input), not routed. */
export const NO_EXPERT = 0xffffffff;

export interface JobStartEvent {
  /** Name of the input for messages ("stdin" for -). */
  input: string;
  format: string;
  /** Bytes the job will read, when known (for percentages and ETA). */
  inputSize: number | null;
  numExperts: number;
  boundaries: readonly number[];
  expertDescriptions: readonly string[];
  /** Backend asked for ('auto', 'gpu', 'cpu', ...). */
  backend: string;
  startedAt: number;
}

export interface BatchTimingsMs {
  /** Time the backend took for this batch (host preparation + compute + readback). */
  routeMs: number;
  /** Time to format and write its output records. */
  writeMs: number;
}

export interface BatchEvent {
  /** 0-based number of this batch in the run. */
  seq: number;
  /** Global index of the batch's first record. */
  firstIndex: number;
  /** Records of this batch written (routed + error records). */
  records: number;
  /** Error records among them. */
  errors: number;
  /** Input bytes read for this batch. */
  inputBytes: number;
  /** One entry per record; NO_EXPERT for an error record. Valid only during the callback. */
  experts: Uint32Array;
  scoresQ16: Uint32Array;
  confidenceQ16: Uint32Array;
  /** The routed text bytes of the records (error records: empty). Valid only during the callback. */
  text: PackedBatch;
  /** Per-expert counts of this batch. */
  perExpert: readonly number[];
  backend: string;
  adapter: string;
  /** True when this batch ran on the CPU because the GPU device was lost. */
  fallback: boolean;
  timings: BatchTimingsMs;
  /** Totals of the run so far, this batch included. */
  totals: { recordsIn: number; recordsOut: number; routed: number; errors: number; bytes: number; elapsedMs: number };
}

export interface RouteJobListener {
  onStart?(event: JobStartEvent): void;
  onBatch?(event: BatchEvent): void;
  /** The final statistics (complete: false when a bad record stopped the run). */
  onEnd?(stats: RunStats): void;
}
