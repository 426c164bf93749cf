/** The statistics of a finished (or stopped) route job: the --stats JSON, and merging the stats of shards. */
import { mergeCostStats, type CostStats } from './cost-stats.js';
import { describeFingerprintDifference, type RouterFingerprint } from '../model/router-fingerprint.js';
import { describeInputDifference, type InputFingerprint } from './input-fingerprint.js';

/** 2: adds router and inputFingerprint (what merge-stats checks). */
export const STATS_VERSION = 2;

export interface RunStats {
  /** Format version of this object. */
  version: typeof STATS_VERSION;
  input: string;
  /** What the input was (size and a content sample): merge-stats refuses parts of different inputs. */
  inputFingerprint: InputFingerprint;
  /** What decided the experts: merge-stats refuses parts routed under different configs. */
  router: RouterFingerprint;
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
  /** merge-stats --allow-partial: the parts that were missing (absent when the parts cover the input). */
  missingParts?: string[];
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
    version: STATS_VERSION,
    input: [...new Set(all.map((s) => s.input))].join(', '),
    inputFingerprint: first.inputFingerprint,
    router: first.router,
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

/** One stats file given to merge-stats: its name, its parsed stats, and its identity on disk (same file twice). */
export interface StatsPart {
  file: string;
  stats: RunStats;
  /** "dev:ino" of the stats file itself, when known. */
  fileId?: string;
}

/**
 * mismatch: the parts do not belong to one run (config, input, split); duplicate: something would be counted
 * twice; gap: a part is missing (the only kind --allow-partial accepts).
 */
export type MergeProblemKind = 'mismatch' | 'duplicate' | 'gap';

export interface MergeProblem {
  kind: MergeProblemKind;
  message: string;
}

function partName(s: RunStats): string {
  return s.shard ? `part ${s.shard.index}/${s.shard.count}` : 'a whole run';
}

/**
 * Whether the parts are the parts of one --shard run, of one input, under one router config, each once.
 * Mismatches and duplicates come first (each names the two files); gaps last.
 */
export function checkMergeable(parts: readonly StatsPart[]): MergeProblem[] {
  if (parts.length === 0) return [];
  const first = parts[0];
  for (const p of parts.slice(1)) {
    const config = describeFingerprintDifference(first.stats.router, p.stats.router);
    if (config) return [{ kind: 'mismatch', message: `${first.file} and ${p.file} were routed with different router configs: ${config}` }];
  }
  for (const p of parts.slice(1)) {
    const input = describeInputDifference(first.stats.inputFingerprint, p.stats.inputFingerprint);
    if (input) return [{ kind: 'mismatch', message: `${first.file} and ${p.file} are of different inputs: ${input}` }];
  }
  for (const p of parts.slice(1)) {
    // the same bytes read as another format are other records
    if (p.stats.format !== first.stats.format) {
      return [{ kind: 'mismatch', message: `${first.file} and ${p.file} read the input as different formats: ${first.stats.format} vs ${p.stats.format}` }];
    }
  }
  const byId = new Map<string, string>();
  for (const p of parts) {
    const seen = p.fileId !== undefined ? byId.get(p.fileId) : undefined;
    if (seen !== undefined) return [{ kind: 'duplicate', message: `${seen} and ${p.file} are the same stats file, given twice` }];
    if (p.fileId !== undefined) byId.set(p.fileId, p.file);
  }
  for (const p of parts.slice(1)) {
    if (Boolean(first.stats.shard) !== Boolean(p.stats.shard)) {
      return [{ kind: 'mismatch', message: `${first.file} is ${partName(first.stats)} and ${p.file} is ${partName(p.stats)} of ${p.stats.input} (merge-stats merges the parts of one --shard run)` }];
    }
    if (first.stats.shard && p.stats.shard && first.stats.shard.count !== p.stats.shard.count) {
      return [{ kind: 'mismatch', message: `${first.file} is ${partName(first.stats)} and ${p.file} is ${partName(p.stats)}: different splits` }];
    }
  }
  const byPart = new Map<number, StatsPart>();
  for (const p of parts) {
    const index = p.stats.shard?.index ?? -1;
    const seen = byPart.get(index);
    if (seen) {
      const what = p.stats.shard ? `both ${partName(p.stats)}` : `both whole runs of ${p.stats.input}`;
      return [{ kind: 'duplicate', message: `${seen.file} and ${p.file} are ${what}: merging would count it twice` }];
    }
    byPart.set(index, p);
  }
  if (!first.stats.shard) return [];
  const n = first.stats.shard.count;
  const problems: MergeProblem[] = [];
  for (let i = 0; i < n; i++) {
    const a = byPart.get(i);
    const b = byPart.get(i + 1);
    if (a?.stats.shard && b?.stats.shard && a.stats.shard.endByte !== b.stats.shard.startByte) {
      return [{ kind: 'mismatch', message: `${a.file} and ${b.file} (parts ${i} and ${i + 1} of ${n}) are not contiguous (byte ${a.stats.shard.endByte} vs ${b.stats.shard.startByte})` }];
    }
    if (!a) problems.push({ kind: 'gap', message: `part ${i}/${n} is missing` });
  }
  return problems;
}

type Check = (v: unknown) => boolean;
const isNum: Check = (v) => typeof v === 'number' && Number.isFinite(v);
const isStr: Check = (v) => typeof v === 'string';
const orNull = (c: Check): Check => (v) => v === null || c(v);
const isNumArray: Check = (v) => Array.isArray(v) && v.every(isNum);
const isNumRecord: Check = (v) => v !== null && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every(isNum);

function problemIn(obj: unknown, where: string, fields: Record<string, [Check, string]>): string | null {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return `${where || 'the file'} must be an object`;
  const o = obj as Record<string, unknown>;
  for (const [key, [check, what]] of Object.entries(fields)) {
    if (!check(o[key])) return `${where ? `${where}.` : ''}${key} must be ${what}`;
  }
  return null;
}

/**
 * What is wrong with a parsed --stats file of the current version (null: nothing), checked before merging
 * so that a hand-edited or truncated file is a message, not a crash.
 */
export function statsShapeProblem(v: unknown): string | null {
  const top = problemIn(v, '', {
    input: [isStr, 'a string'],
    format: [isStr, 'a string'],
    recordsIn: [isNum, 'a number'],
    recordsOut: [isNum, 'a number'],
    routed: [isNum, 'a number'],
    errors: [isNum, 'a number'],
    bytes: [isNum, 'a number'],
    numExperts: [isNum, 'a number'],
    boundaries: [isNumArray, 'an array of numbers'],
    perExpert: [isNumArray, 'an array of numbers'],
    backend: [isStr, 'a string'],
    adapter: [isStr, 'a string'],
    cpuFallbackBatches: [isNum, 'a number'],
    seconds: [isNum, 'a number'],
    maxRssBytes: [isNum, 'a number'],
    complete: [(x) => typeof x === 'boolean', 'a boolean'],
  });
  if (top) return top;
  const s = v as Record<string, unknown>;
  const router = problemIn(s.router, 'router', {
    fingerprint: [isStr, 'a string'],
    numExperts: [isNum, 'a number'],
    boundariesQ16: [isNumArray, 'an array of numbers'],
    weights: [isNumRecord, 'an object of numbers'],
    caps: [isNumRecord, 'an object of numbers'],
  });
  if (router) return router;
  const identity = problemIn(s.inputFingerprint, 'inputFingerprint', {
    path: [isStr, 'a string'],
    size: [orNull(isNum), 'a number or null'],
    mtimeMs: [orNull(isNum), 'a number or null'],
    sample: [orNull(isStr), 'a string or null'],
  });
  if (identity) return identity;
  if (s.shard !== undefined) {
    return problemIn(s.shard, 'shard', {
      index: [isNum, 'a number'],
      count: [isNum, 'a number'],
      startByte: [isNum, 'a number'],
      endByte: [isNum, 'a number'],
      firstIndex: [isNum, 'a number'],
    });
  }
  return null;
}
