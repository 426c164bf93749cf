/** The statistics of a finished (or stopped) route job: the --stats JSON, and merging the stats of shards. */
import { mergeCostStats, type CostStats } from './cost-stats.js';

export interface RunStats {
  /** Format version of this object. */
  version: 1;
  input: string;
  format: string;
  /** Records read (every record, good or bad). */
  recordsIn: number;
  /** Records written (routed + error records); equals recordsIn unless the run stopped on an error. */
  recordsOut: number;
  routed: number;
  errors: number;
  /** Input bytes read. */
  bytes: number;
  numExperts: number;
  boundaries: number[];
  perExpert: number[];
  /** perExpert / routed. */
  shares: number[];
  backend: string;
  adapter: string;
  /** Why this backend ran (what 'auto' found, or that it was asked for), and how many worker threads. */
  backendChoice?: string;
  /** Batches routed on the CPU after the GPU device was lost. */
  cpuFallbackBatches: number;
  seconds: number;
  mbPerSecond: number;
  /** Peak resident memory of the process (process.resourceUsage().maxRSS). */
  maxRssBytes: number;
  /** Complete (false: stopped on a bad record). */
  complete: boolean;
  shard?: { index: number; count: number; startByte: number; endByte: number; firstIndex: number };
  /** merge-stats: how many stats files were merged. */
  merged?: number;
  /** With models in --config: records, characters and estimated cost per expert, and the total (cost-stats.ts). */
  cost?: CostStats;
  /** The input file's size changed while it was read (appended to, truncated): the output is what was read. */
  inputChanged?: InputChange;
}

/** A regular input file whose size at the end of reading differs from its size at the start. */
export interface InputChange {
  path: string;
  sizeAtStart: number;
  sizeAtEnd: number;
  /** Bytes read from it (a --shard part: of its byte range, fixed at the start). */
  bytesRead: number;
}

export function shares(perExpert: readonly number[], routed: number): number[] {
  return perExpert.map((n) => (routed === 0 ? 0 : n / routed));
}

/** Merges the stats of the parts of one run (--shard I/N) into one. */
export function mergeStats(all: readonly RunStats[]): RunStats {
  if (all.length === 0) throw new Error('nothing to merge');
  const first = all[0];
  const numExperts = Math.max(...all.map((s) => s.numExperts));
  const perExpert = new Array<number>(numExperts).fill(0);
  for (const s of all) s.perExpert.forEach((n, e) => (perExpert[e] += n));
  const sum = (f: (s: RunStats) => number): number => all.reduce((a, s) => a + f(s), 0);
  const routed = sum((s) => s.routed);
  const bytes = sum((s) => s.bytes);
  const seconds = Math.max(...all.map((s) => s.seconds));
  const backends = [...new Set(all.map((s) => s.backend))];
  const adapters = [...new Set(all.map((s) => s.adapter))];
  const cost = mergeCostStats(all);
  // a part that saw its file change makes the whole run's output suspect
  const changed = all.find((s) => s.inputChanged)?.inputChanged;
  return {
    version: 1,
    input: [...new Set(all.map((s) => s.input))].join(', '),
    format: [...new Set(all.map((s) => s.format))].join(', '),
    recordsIn: sum((s) => s.recordsIn),
    recordsOut: sum((s) => s.recordsOut),
    routed,
    errors: sum((s) => s.errors),
    bytes,
    numExperts,
    boundaries: first.boundaries,
    perExpert,
    shares: shares(perExpert, routed),
    backend: backends.join(', '),
    adapter: adapters.join('; '),
    cpuFallbackBatches: sum((s) => s.cpuFallbackBatches),
    seconds,
    mbPerSecond: seconds > 0 ? bytes / 1e6 / seconds : 0,
    maxRssBytes: Math.max(...all.map((s) => s.maxRssBytes)),
    complete: all.every((s) => s.complete),
    merged: all.length,
    ...(cost ? { cost } : {}),
    ...(changed ? { inputChanged: changed } : {}),
  };
}

/** Checks that shard stats cover parts 0..N-1 of one file exactly once, with contiguous byte ranges. Returns problems. */
export function checkShardCoverage(all: readonly RunStats[]): string[] {
  const withShard = all.filter((s) => s.shard);
  if (withShard.length === 0) return [];
  if (withShard.length !== all.length) return ['some stats files come from a --shard run and some do not'];
  const problems: string[] = [];
  const counts = new Set(withShard.map((s) => s.shard?.count));
  if (counts.size !== 1) return [`the stats come from different splits (N = ${[...counts].join(', ')})`];
  const n = withShard[0].shard?.count ?? 0;
  const parts = [...withShard].sort((a, b) => (a.shard?.index ?? 0) - (b.shard?.index ?? 0));
  const seen = new Set<number>();
  for (const s of parts) {
    const i = s.shard?.index ?? -1;
    if (seen.has(i)) problems.push(`part ${i}/${n} appears twice`);
    seen.add(i);
  }
  for (let i = 0; i < n; i++) if (!seen.has(i)) problems.push(`part ${i}/${n} is missing`);
  for (let k = 1; k < parts.length; k++) {
    const a = parts[k - 1].shard;
    const b = parts[k].shard;
    if (a && b && a.index + 1 === b.index && a.endByte !== b.startByte) problems.push(`parts ${a.index} and ${b.index} are not contiguous (byte ${a.endByte} vs ${b.startByte})`);
  }
  return problems;
}
