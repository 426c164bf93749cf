/**
 * The dashboard's snapshot: a versioned JSON object of bounded size that the
 * live page, the report and `moe-router dashboard|report` all read. Each SSE
 * event is one whole snapshot, so a page that connects late is complete at once.
 */
import type { LatencySummary, SampleRecord, SeriesPoint } from './aggregates.js';
import { STATS_VERSION, type RunStats } from '../job/run-stats.js';

export const SNAPSHOT_FORMAT = 'moe-router-dashboard';
export const SNAPSHOT_VERSION = 1;

export type DashboardState = 'waiting' | 'running' | 'done';

export interface DashboardSnapshot {
  format: typeof SNAPSHOT_FORMAT;
  version: typeof SNAPSHOT_VERSION;
  /** Grows by one at every change: a reader can tell a new snapshot from one it has. */
  seq: number;
  state: DashboardState;
  run: {
    input: string;
    format: string;
    /** Bytes the run will read, when known (percentage and ETA). */
    inputSize: number | null;
    backend: string;
    adapter: string;
    /** Wall-clock start (ms since the epoch). */
    startedAt: number;
    elapsedMs: number;
    /** null while running; false when a bad record stopped the run. */
    complete: boolean | null;
    /** How many runs (shards) were merged into this one (1 for a single run). */
    parts: number;
  };
  config: {
    numExperts: number;
    boundaries: number[];
    boundariesQ16: number[];
    expertDescriptions: string[];
  };
  totals: {
    recordsIn: number;
    recordsOut: number;
    routed: number;
    errors: number;
    bytes: number;
    batches: number;
    fallbackBatches: number;
  };
  perExpert: number[];
  histogram: {
    /** bin = min(bins - 1, scoreQ16 >> binShift). */
    binShift: number;
    counts: number[];
    /** Routed records known only by count (merged from a --stats file): in perExpert, not in counts. */
    unbinned: number;
  };
  /** The histogram of the records routed in the last `windowMs` (the overlay). */
  recent: { windowMs: number; counts: number[] };
  sample: { capacity: number; minPerExpert: number; seen: number; records: SampleRecord[] };
  extremes: { most: SampleRecord[]; least: SampleRecord[] };
  series: { bucketMs: number; points: SeriesPoint[] };
  latency: LatencySummary;
  /** The run's final --stats, once done (a single run, or the merge of the parts). */
  stats: RunStats | null;
}

/** What `moe-router dashboard|report` read: a snapshot (route --snapshot) or a --stats file. */
export type RunSummaryFile = { kind: 'snapshot'; snapshot: DashboardSnapshot } | { kind: 'stats'; stats: RunStats };

/** Tells a snapshot from a --stats file; null when it is neither. */
export function classifySummary(value: unknown): RunSummaryFile | null {
  if (!value || typeof value !== 'object') return null;
  const v = value as Partial<DashboardSnapshot> & Partial<RunStats>;
  if (v.format === SNAPSHOT_FORMAT) {
    if (v.version !== SNAPSHOT_VERSION || !Array.isArray(v.perExpert) || !v.histogram || !Array.isArray(v.histogram.counts) || !v.config || !v.totals) return null;
    return { kind: 'snapshot', snapshot: v as DashboardSnapshot };
  }
  if (v.version === STATS_VERSION && Array.isArray(v.perExpert) && typeof v.recordsIn === 'number' && Array.isArray(v.boundaries)) {
    return { kind: 'stats', stats: v as RunStats };
  }
  return null;
}
