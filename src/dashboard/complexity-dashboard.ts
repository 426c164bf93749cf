/**
 * ComplexityDashboard: the notebook's monitor, as bounded aggregates. Fed one
 * value at a time (`updateMetrics`, the notebook's interface), one batch of Q16
 * arrays at a time (`updateBatch`), or as a listener of the route job
 * (onStart / onBatch / onEnd). It keeps summaries, never every value, so its
 * snapshot has a fixed size bound whatever the corpus.
 *
 * Invariant: sum(histogram.counts) + histogram.unbinned = sum(perExpert) = routed.
 */
import { confidenceQ16 } from '../model/complexity-model.js';
import { ONE } from '../model/fixed-point.js';
import { resolveRouterConfig } from '../model/router-config.js';
import { NO_EXPERT, type BatchEvent, type JobStartEvent, type RouteJobListener } from '../job/events.js';
import { mergeStats, type RunStats } from '../job/run-stats.js';
import {
  BIN_SHIFT,
  BINS,
  Extremes,
  LatencyHistogram,
  Reservoir,
  TimeSeries,
  binOf,
  cutString,
  cutText,
  mergeSamples,
  seededRandom,
  type SampleRecord,
} from './aggregates.js';
import { SNAPSHOT_FORMAT, SNAPSHOT_VERSION, type DashboardSnapshot, type DashboardState, type RunSummaryFile } from './snapshot.js';
import type { PackedBatch } from '../model/packed-batch.js';

/** The notebook's three metrics, plus 'text' to give the sample table the record's text. */
export type MetricKind = 'text_complexity' | 'expert_assignment' | 'processing_time' | 'text';

export interface ComplexityDashboardOptions {
  /** Default 3 (the notebook's). */
  numExperts?: number;
  /** Default: the router's default boundaries for numExperts at threshold 0.6. */
  boundaries?: readonly number[];
  expertDescriptions?: readonly string[];
  /** Records in the uniform sample (scatter, sample table). Default 1000. */
  sampleSize?: number;
  /** At least this many sampled records per expert (when it has them). Default 8; at most 1024 / numExperts. */
  minPerExpert?: number;
  /** Seed of the sample's PRNG: the same seed and input give the same sample. Default 1. */
  seed?: number;
  /** Most and least complex records kept. Default 10. */
  extremes?: number;
  /** Window of the histogram's overlay of recent records. Default 10 000 ms. */
  recentWindowMs?: number;
  /** Clock in ms (tests); default performance.now. */
  now?: () => number;
}

/** One batch of routed records in Q16 (the engine's own output). */
export interface DashboardBatch {
  experts: Uint32Array | readonly number[];
  scoresQ16: Uint32Array | readonly number[];
  confidenceQ16?: Uint32Array | readonly number[];
  /** The records' text bytes, for the sample (optional). */
  text?: PackedBatch;
  /** Global index of the first record (default: records counted so far). */
  firstIndex?: number;
  inputBytes?: number;
  /** Time this batch took (ms), for the latency panels. */
  latencyMs?: number;
}

export type DashboardListener = (update: { seq: number; state: DashboardState }) => void;

/** The text of a record by its global index, decoded only for the records a sample keeps. */
interface TextSource {
  at(index: number): string;
}

/** Per-second histograms of the recent past, for the overlay. */
interface RecentSlot {
  second: number;
  counts: Uint32Array;
}

const MAX_MIN_SAMPLE_TOTAL = 1024;

function isSnapshot(v: DashboardSnapshot | RunStats): v is DashboardSnapshot {
  return v.format === SNAPSHOT_FORMAT;
}

export class ComplexityDashboard implements RouteJobListener {
  private numExperts = 3;
  private boundaries: number[] = [];
  private boundariesQ16: number[] = [];
  private descriptions: string[] = [];
  private readonly opts: Required<Omit<ComplexityDashboardOptions, 'numExperts' | 'boundaries' | 'expertDescriptions'>>;
  private random: () => number;

  private seq = 0;
  private state: DashboardState = 'waiting';
  private run: DashboardSnapshot['run'];
  private totals: DashboardSnapshot['totals'] = { recordsIn: 0, recordsOut: 0, routed: 0, errors: 0, bytes: 0, batches: 0, fallbackBatches: 0 };
  private perExpert: number[] = [];
  private histogram = new Float64Array(BINS);
  private unbinned = 0;
  private recent: RecentSlot[] = [];
  private lastMs = 0;
  private global: Reservoir;
  private perExpertSample: Reservoir[] = [];
  private most: Extremes;
  private least: Extremes;
  private series = new TimeSeries();
  private latency = new LatencyHistogram();
  private stats: RunStats | null = null;
  private readonly listeners = new Set<DashboardListener>();
  private readonly t0: number;
  /** The notebook interface's record being assembled from its separate metrics. */
  private pending: { score?: number; expert?: number; text?: string; timeMs?: number } = {};

  constructor(options: ComplexityDashboardOptions = {}) {
    this.opts = {
      sampleSize: options.sampleSize ?? 1000,
      minPerExpert: options.minPerExpert ?? 8,
      seed: options.seed ?? 1,
      extremes: options.extremes ?? 10,
      recentWindowMs: options.recentWindowMs ?? 10_000,
      now: options.now ?? (() => performance.now()),
    };
    this.t0 = this.opts.now();
    this.random = seededRandom(this.opts.seed);
    this.global = new Reservoir(this.opts.sampleSize, this.random);
    this.most = new Extremes(this.opts.extremes, 1);
    this.least = new Extremes(this.opts.extremes, -1);
    this.run = { input: '', format: '', inputSize: null, backend: '', adapter: '', startedAt: Date.now(), elapsedMs: 0, complete: null, parts: 1 };
    this.configure(options.numExperts ?? 3, options.boundaries, options.expertDescriptions);
  }

  private configure(numExperts: number, boundaries?: readonly number[], descriptions?: readonly string[]): void {
    const config = resolveRouterConfig({ numExperts, ...(boundaries && numExperts > 1 ? { boundaries } : {}) });
    this.numExperts = config.numExperts;
    this.boundaries = [...config.boundaries];
    this.boundariesQ16 = [...config.boundariesQ16];
    this.descriptions = Array.from({ length: config.numExperts }, (_, e) => descriptions?.[e] ?? config.expertDescriptions[e] ?? `Expert ${e}`);
    while (this.perExpert.length < this.numExperts) this.perExpert.push(0);
    const m = Math.max(1, Math.min(this.opts.minPerExpert, Math.floor(MAX_MIN_SAMPLE_TOTAL / this.numExperts)));
    while (this.perExpertSample.length < this.numExperts) this.perExpertSample.push(new Reservoir(m, this.random));
  }

  // ---------------------------------------------------------------- feeding

  /**
   * The notebook's interface: `updateMetrics('text_complexity', c)`,
   * `updateMetrics('expert_assignment', e)` and `updateMetrics('processing_time', seconds)`
   * per input (in any order). A record is counted once it has both its complexity and its expert.
   */
  updateMetrics(kind: MetricKind, value: number | string): void {
    switch (kind) {
      case 'text_complexity':
        if (typeof value !== 'number' || !(value >= 0 && value <= 1)) throw new RangeError(`text_complexity must be a number in [0, 1], got ${String(value)}`);
        this.pending.score = Math.round(value * ONE);
        break;
      case 'expert_assignment':
        if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value >= this.numExperts) {
          throw new RangeError(`expert_assignment must be an integer in 0..${this.numExperts - 1}, got ${String(value)}`);
        }
        this.pending.expert = value;
        break;
      case 'processing_time':
        if (typeof value !== 'number' || !(value >= 0)) throw new RangeError(`processing_time must be seconds >= 0, got ${String(value)}`);
        this.pending.timeMs = value * 1000;
        break;
      case 'text':
        this.pending.text = String(value);
        break;
      default:
        throw new RangeError(`unknown metric ${String(kind)} (text_complexity, expert_assignment, processing_time, text)`);
    }
    const p = this.pending;
    if (kind === 'processing_time' && p.score === undefined && p.expert === undefined && this.totals.routed > 0) {
      // the time of the record just counted (the notebook sends it last)
      this.pending = p.text === undefined ? {} : { text: p.text };
      this.latency.add((value as number) * 1000);
      this.series.add(this.lastMs, 0, 0, (value as number) * 1000);
      this.changed();
      return;
    }
    if (p.score === undefined || p.expert === undefined) return;
    this.pending = {};
    this.addOne(p.score, p.expert, p.text === undefined ? undefined : cutString(p.text), p.timeMs);
  }

  private addOne(score: number, expert: number, text: string | undefined, timeMs: number | undefined): void {
    if (this.state === 'waiting') this.state = 'running';
    const index = this.totals.recordsOut;
    const now = this.opts.now() - this.t0;
    this.count(index, score, expert, confidenceQ16(score, expert, this.boundariesQ16), { at: () => text ?? '' }, this.recentSlot(Math.floor(now / 1000)));
    this.totals.recordsIn++;
    this.totals.recordsOut++;
    this.totals.routed++;
    this.series.add(now, 1, text ? Buffer.byteLength(text) : 0, timeMs ?? null);
    if (timeMs !== undefined) this.latency.add(timeMs);
    this.run.elapsedMs = now;
    this.lastMs = now;
    this.changed();
  }

  /** The batch form: a batch of any size is one call, straight from the engine's Q16 arrays. */
  updateBatch(batch: DashboardBatch): void {
    const now = this.opts.now() - this.t0;
    this.addBatch(batch, now);
    this.run.elapsedMs = now;
    this.changed();
  }

  private addBatch(batch: DashboardBatch, atMs: number): { routed: number; errors: number } {
    if (this.state === 'waiting') this.state = 'running';
    const { experts, scoresQ16 } = batch;
    const conf = batch.confidenceQ16;
    const text = batch.text;
    const first = batch.firstIndex ?? this.totals.recordsOut;
    const recent = this.recentSlot(Math.floor(atMs / 1000));
    let routed = 0;
    let errors = 0;
    const texts: TextSource = { at: (index) => (text ? cutText(text.bytes, text.offsets[index - first], text.offsets[index - first + 1]) : '') };
    for (let i = 0; i < experts.length; i++) {
      const e = experts[i];
      if (e === NO_EXPERT || e >= this.numExperts) {
        errors++;
        continue;
      }
      routed++;
      const s = scoresQ16[i];
      this.count(first + i, s, e, conf ? conf[i] : confidenceQ16(s, e, this.boundariesQ16), texts, recent);
    }
    this.totals.routed += routed;
    this.totals.errors += errors;
    this.totals.recordsIn += experts.length;
    this.totals.recordsOut += experts.length;
    this.totals.bytes += batch.inputBytes ?? 0;
    this.totals.batches++;
    this.series.add(atMs, experts.length, batch.inputBytes ?? 0, batch.latencyMs ?? null);
    if (batch.latencyMs !== undefined) this.latency.add(batch.latencyMs);
    this.lastMs = Math.max(this.lastMs, atMs);
    return { routed, errors };
  }

  /**
   * Counts one routed record in every aggregate. The hot path of a million-record
   * batch: a few array increments and comparisons; the record (and its text) is
   * built only when a sample keeps it.
   */
  private count(index: number, score: number, expert: number, conf: number, text: TextSource, recent: Uint32Array): void {
    const bin = binOf(score);
    this.histogram[bin]++;
    recent[bin]++;
    this.perExpert[expert]++;
    const g = this.global.offer();
    const r = this.perExpertSample[expert];
    const k = r.offer();
    const most = this.most.wants(score);
    const least = this.least.wants(score);
    if (g < 0 && k < 0 && !most && !least) return;
    const rec: SampleRecord = { index, scoreQ16: score, expert, confidenceQ16: conf, text: text.at(index) };
    if (g >= 0) this.global.put(g, rec);
    if (k >= 0) r.put(k, rec);
    if (most) this.most.add(rec);
    if (least) this.least.add(rec);
  }

  private recentSlot(second: number): Uint32Array {
    const slots = Math.ceil(this.opts.recentWindowMs / 1000) + 1;
    for (const s of this.recent) if (s.second === second) return s.counts;
    if (this.recent.length < slots) {
      const slot = { second, counts: new Uint32Array(BINS) };
      this.recent.push(slot);
      return slot.counts;
    }
    let oldest = this.recent[0];
    for (const s of this.recent) if (s.second < oldest.second) oldest = s;
    oldest.second = second;
    oldest.counts.fill(0);
    return oldest.counts;
  }

  // ------------------------------------------------------- the route job's listener

  onStart(event: JobStartEvent): void {
    this.configure(event.numExperts, event.boundaries, event.expertDescriptions);
    this.run.input = event.input;
    this.run.format = event.format;
    this.run.inputSize = event.inputSize;
    this.run.backend = event.backend;
    this.run.startedAt = event.startedAt;
    this.state = 'running';
    this.changed();
  }

  onBatch(event: BatchEvent): void {
    this.addBatch(
      {
        experts: event.experts,
        scoresQ16: event.scoresQ16,
        confidenceQ16: event.confidenceQ16,
        text: event.text,
        firstIndex: event.firstIndex,
        inputBytes: event.inputBytes,
        latencyMs: event.timings.routeMs + event.timings.writeMs,
      },
      event.totals.elapsedMs,
    );
    this.run.backend = event.backend;
    this.run.adapter = event.adapter;
    if (event.fallback) this.totals.fallbackBatches++;
    // the job's own totals are the truth for what was read and written
    this.totals.recordsIn = event.totals.recordsIn;
    this.totals.recordsOut = event.totals.recordsOut;
    this.totals.bytes = event.totals.bytes;
    this.run.elapsedMs = event.totals.elapsedMs;
    this.changed();
  }

  onEnd(stats: RunStats): void {
    this.stats = stats;
    this.totals.recordsIn = stats.recordsIn;
    this.totals.recordsOut = stats.recordsOut;
    this.totals.errors = stats.errors;
    this.totals.bytes = stats.bytes;
    this.totals.fallbackBatches = stats.cpuFallbackBatches;
    this.run.backend = stats.backend;
    this.run.adapter = stats.adapter;
    this.run.elapsedMs = stats.seconds * 1000;
    this.run.complete = stats.complete;
    this.state = 'done';
    this.changed();
  }

  /** Marks a run fed through updateMetrics/updateBatch as finished. */
  finish(): void {
    this.run.complete ??= true;
    this.state = 'done';
    this.changed();
  }

  // ---------------------------------------------------------------- reading

  get expertCount(): number {
    return this.numExperts;
  }

  get sequence(): number {
    return this.seq;
  }

  get currentState(): DashboardState {
    return this.state;
  }

  /** Calls fn after every change (with the new sequence number); returns the unsubscribe function. */
  subscribe(fn: DashboardListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed(): void {
    this.seq++;
    for (const fn of [...this.listeners]) fn({ seq: this.seq, state: this.state });
  }

  snapshot(): DashboardSnapshot {
    const recentFrom = Math.floor(this.lastMs / 1000) - Math.ceil(this.opts.recentWindowMs / 1000) + 1;
    const recent = new Array<number>(BINS).fill(0);
    for (const s of this.recent) if (s.second >= recentFrom) for (let b = 0; b < BINS; b++) recent[b] += s.counts[b];
    const byIndex = new Map<number, SampleRecord>();
    for (const r of this.global.items) byIndex.set(r.index, r);
    for (const res of this.perExpertSample) for (const r of res.items) byIndex.set(r.index, r);
    return {
      format: SNAPSHOT_FORMAT,
      version: SNAPSHOT_VERSION,
      seq: this.seq,
      state: this.state,
      run: { ...this.run },
      config: { numExperts: this.numExperts, boundaries: [...this.boundaries], boundariesQ16: [...this.boundariesQ16], expertDescriptions: [...this.descriptions] },
      totals: { ...this.totals },
      perExpert: [...this.perExpert],
      histogram: { binShift: BIN_SHIFT, counts: Array.from(this.histogram), unbinned: this.unbinned },
      recent: { windowMs: this.opts.recentWindowMs, counts: recent },
      sample: {
        capacity: this.opts.sampleSize,
        minPerExpert: this.perExpertSample[0]?.capacity ?? 0,
        seen: this.global.seen,
        records: [...byIndex.values()].sort((a, b) => a.index - b.index),
      },
      extremes: { most: [...this.most.items], least: [...this.least.items] },
      series: { bucketMs: this.series.bucketMs, points: this.series.points.map((p) => ({ ...p })) },
      latency: this.latency.summary(),
      stats: this.stats,
    };
  }

  // ---------------------------------------------------------------- merging

  /**
   * Adds another run's figures to this one: the parts of a --shard run, from
   * their dashboards, snapshots (route --snapshot) or --stats files. A --stats
   * file has counts only: its records count in perExpert and histogram.unbinned.
   */
  merge(other: ComplexityDashboard | DashboardSnapshot | RunStats): this {
    const s: RunSummaryFile =
      other instanceof ComplexityDashboard
        ? { kind: 'snapshot', snapshot: other.snapshot() }
        : isSnapshot(other)
          ? { kind: 'snapshot', snapshot: other }
          : { kind: 'stats', stats: other };
    const first = this.run.parts === 0;
    const stats = s.kind === 'stats' ? s.stats : s.snapshot.stats;
    const numExperts = s.kind === 'stats' ? s.stats.numExperts : s.snapshot.config.numExperts;
    if (first) {
      const boundaries = s.kind === 'stats' ? s.stats.boundaries : s.snapshot.config.boundaries;
      this.configure(numExperts, boundaries, s.kind === 'snapshot' ? s.snapshot.config.expertDescriptions : undefined);
    } else if (numExperts !== this.numExperts) {
      throw new RangeError(`cannot merge a run with ${numExperts} experts into one with ${this.numExperts}`);
    }
    const t = this.totals;
    if (s.kind === 'stats') {
      const st = s.stats;
      st.perExpert.forEach((n, e) => (this.perExpert[e] += n));
      this.unbinned += st.routed;
      t.recordsIn += st.recordsIn;
      t.recordsOut += st.recordsOut;
      t.routed += st.routed;
      t.errors += st.errors;
      t.bytes += st.bytes;
      t.fallbackBatches += st.cpuFallbackBatches;
      this.series.add(0, st.recordsOut, st.bytes, null);
      this.mergeRun(st.input, st.format, st.backend, st.adapter, st.seconds * 1000, st.complete, 1, null);
    } else {
      const o = s.snapshot;
      o.perExpert.forEach((n, e) => (this.perExpert[e] += n));
      o.histogram.counts.forEach((n, b) => (this.histogram[b] += n));
      this.unbinned += o.histogram.unbinned;
      for (const k of Object.keys(t) as (keyof typeof t)[]) t[k] += o.totals[k];
      const parts = [{ items: this.global.items, seen: this.global.seen }, { items: o.sample.records, seen: o.sample.seen }];
      this.global.reset(mergeSamples(parts, this.global.capacity, this.random), this.global.seen + o.sample.seen);
      this.perExpertSample.forEach((res, e) => {
        const mine = { items: res.items, seen: res.seen };
        const theirs = { items: o.sample.records.filter((r) => r.expert === e), seen: o.perExpert[e] ?? 0 };
        res.reset(mergeSamples([mine, theirs], res.capacity, this.random), res.seen + theirs.seen);
      });
      for (const r of o.extremes.most) this.most.add(r);
      for (const r of o.extremes.least) this.least.add(r);
      this.series.merge(o.series.points, o.series.bucketMs);
      this.latency.merge(o.latency);
      this.mergeRun(o.run.input, o.run.format, o.run.backend, o.run.adapter, o.run.elapsedMs, o.run.complete, o.run.parts, o.run.inputSize);
    }
    if (stats) this.stats = this.stats && !first ? mergeStats([this.stats, stats]) : { ...stats, merged: stats.merged ?? 1 };
    if (first) this.run.startedAt = s.kind === 'snapshot' ? s.snapshot.run.startedAt : Date.now() - s.stats.seconds * 1000;
    this.state = 'done';
    this.changed();
    return this;
  }

  private mergeRun(input: string, format: string, backend: string, adapter: string, elapsedMs: number, complete: boolean | null, parts: number, inputSize: number | null): void {
    const join = (a: string, b: string, sep: string): string => (a === '' || a === b ? b : a.split(sep).includes(b) ? a : `${a}${sep}${b}`);
    const r = this.run;
    r.input = join(r.input, input, ', ');
    r.format = join(r.format, format, ', ');
    r.backend = join(r.backend, backend, ', ');
    r.adapter = join(r.adapter, adapter, '; ');
    r.elapsedMs = Math.max(r.parts === 0 ? 0 : r.elapsedMs, elapsedMs);
    r.complete = (r.parts === 0 ? true : r.complete !== false) && complete !== false;
    r.inputSize = r.parts === 0 ? inputSize : r.inputSize;
    r.parts += parts;
  }

  /** An empty dashboard to merge finished runs into (moe-router dashboard|report FILE...). */
  static forMerging(options: ComplexityDashboardOptions = {}): ComplexityDashboard {
    const d = new ComplexityDashboard(options);
    d.run.parts = 0;
    return d;
  }
}
