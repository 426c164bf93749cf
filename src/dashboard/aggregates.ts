/**
 * The dashboard's bounded summaries. Each one has a fixed size whatever the
 * corpus: a fixed-bin histogram, reservoirs, extremes, a coarsening time
 * series and a log-bucketed latency histogram. All of them can be merged, so
 * the shards of one run add up to the whole.
 */
import { ONE } from '../model/fixed-point.js';

/** Histogram bins of the Q16 score: bin = min(BINS - 1, score >> BIN_SHIFT). Exact integers. */
export const BIN_SHIFT = 8;
export const BINS = ONE >> BIN_SHIFT;

export function binOf(scoreQ16: number): number {
  const b = scoreQ16 >>> BIN_SHIFT;
  return b < BINS ? b : BINS - 1;
}

/** One sampled record, as the scatter and the sample table show it. */
export interface SampleRecord {
  /** Global index of the record in the input. */
  index: number;
  scoreQ16: number;
  expert: number;
  confidenceQ16: number;
  /** The text, cut to TEXT_CHARS characters (an ellipsis marks a cut). Untrusted: show it as text only. */
  text: string;
}

/** Characters of text kept per sampled record. */
export const TEXT_CHARS = 120;
const TEXT_BYTES = TEXT_CHARS * 4;
// ignoreBOM: a record that starts with U+FEFF keeps it (the default decoder would drop it as a byte order mark)
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

/** Decodes at most TEXT_CHARS characters of bytes[start, end). */
export function cutText(bytes: Uint8Array, start: number, end: number): string {
  const s = decoder.decode(bytes.subarray(start, Math.min(end, start + TEXT_BYTES)));
  const chars = Array.from(s);
  if (chars.length > TEXT_CHARS || end - start > TEXT_BYTES) return chars.slice(0, TEXT_CHARS - 1).join('') + '…';
  return s;
}

export function cutString(s: string): string {
  const chars = Array.from(s.length > TEXT_CHARS * 2 ? s.slice(0, TEXT_CHARS * 2) : s);
  return chars.length > TEXT_CHARS ? chars.slice(0, TEXT_CHARS - 1).join('') + '…' : chars.join('');
}

/** mulberry32: a small seeded PRNG, so that a sample is reproducible for a seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Reservoir sampling, Vitter's algorithm L: a uniform sample of `capacity`
 * items from a stream of unknown length, drawing random numbers only when an
 * item is taken (a million-record batch costs a million comparisons, not a
 * million random numbers).
 */
export class Reservoir {
  items: SampleRecord[] = [];
  seen = 0;
  private w = 1;
  private next = 0;

  constructor(
    readonly capacity: number,
    private readonly random: () => number,
  ) {}

  /** Counts one item; returns the slot the caller must fill, or -1 when this item is not taken. */
  offer(): number {
    const i = this.seen++;
    // the common case, once full: not this item
    if (i !== this.next && i >= this.capacity) return -1;
    if (this.capacity === 0) return -1;
    if (i < this.capacity) {
      if (i === this.capacity - 1) this.advance(true);
      return i;
    }
    if (i !== this.next) return -1;
    this.advance(false);
    return Math.floor(this.random() * this.capacity);
  }

  private advance(first: boolean): void {
    const r = (): number => this.random() || Number.MIN_VALUE;
    this.w *= Math.exp(Math.log(r()) / this.capacity);
    const base = first ? this.capacity - 1 : this.next;
    this.next = base + Math.floor(Math.log(r()) / Math.log(1 - this.w)) + 1;
  }

  put(slot: number, item: SampleRecord): void {
    this.items[slot] = item;
  }

  /** Replaces the content by a merged sample (see mergeSamples); the stream goes on from `seen`. */
  reset(items: SampleRecord[], seen: number): void {
    this.items = items.slice(0, this.capacity);
    this.seen = seen;
    this.w = 1;
    this.next = seen;
    if (this.items.length >= this.capacity && this.capacity > 0) this.advance(false);
  }
}

/**
 * Merges uniform samples of disjoint streams into one of at most `capacity`
 * items: each part contributes in proportion to the items it saw, so the
 * result is still (about) uniform over the union.
 */
export function mergeSamples(parts: readonly { items: readonly SampleRecord[]; seen: number }[], capacity: number, random: () => number): SampleRecord[] {
  const total = parts.reduce((a, p) => a + p.seen, 0);
  const all = parts.reduce((a, p) => a + p.items.length, 0);
  if (all <= capacity) return parts.flatMap((p) => p.items);
  const out: SampleRecord[] = [];
  for (const p of parts) {
    const want = Math.min(p.items.length, Math.round((capacity * p.seen) / Math.max(1, total)));
    const pool = [...p.items];
    for (let k = 0; k < want; k++) {
      const j = k + Math.floor(random() * (pool.length - k));
      [pool[k], pool[j]] = [pool[j], pool[k]];
      out.push(pool[k]);
    }
  }
  return out.slice(0, capacity).sort((a, b) => a.index - b.index);
}

/** The `size` most or least complex records seen (ties: the earlier record stays). */
export class Extremes {
  readonly items: SampleRecord[] = [];

  constructor(
    readonly size: number,
    /** 1: keep the highest scores; -1: the lowest. */
    private readonly sign: 1 | -1,
  ) {}

  /** Whether a record with this score would enter (cheap test before decoding its text). */
  wants(scoreQ16: number): boolean {
    if (this.items.length < this.size) return true;
    return this.sign * scoreQ16 > this.sign * this.items[this.items.length - 1].scoreQ16;
  }

  add(r: SampleRecord): void {
    if (!this.wants(r.scoreQ16)) return;
    let at = this.items.length;
    while (at > 0 && this.sign * r.scoreQ16 > this.sign * this.items[at - 1].scoreQ16) at--;
    this.items.splice(at, 0, r);
    if (this.items.length > this.size) this.items.pop();
  }
}

/** One bucket of the throughput series. */
export interface SeriesPoint {
  /** Start of the bucket, in ms since the run started. */
  t: number;
  records: number;
  bytes: number;
  batches: number;
  latencyMsSum: number;
  latencyMsMax: number;
}

/**
 * Records/s, MB/s and batch latency over time in at most `capacity` buckets:
 * when the run outgrows them, neighbours are merged and the bucket width
 * doubles, so a long run keeps its whole history at a coarser grain.
 */
export class TimeSeries {
  points: SeriesPoint[] = [];

  constructor(
    readonly capacity = 120,
    public bucketMs = 250,
  ) {}

  add(atMs: number, records: number, bytes: number, latencyMs: number | null): void {
    let k = Math.floor(Math.max(0, atMs) / this.bucketMs);
    while (k >= this.capacity) {
      this.coarsen();
      k = Math.floor(Math.max(0, atMs) / this.bucketMs);
    }
    const t = k * this.bucketMs;
    let p = this.points.length > 0 ? this.points[this.points.length - 1] : undefined;
    if (!p || p.t !== t) {
      const found = this.points.find((q) => q.t === t);
      if (found) p = found;
      else {
        p = { t, records: 0, bytes: 0, batches: 0, latencyMsSum: 0, latencyMsMax: 0 };
        this.points.push(p);
        this.points.sort((a, b) => a.t - b.t);
      }
    }
    p.records += records;
    p.bytes += bytes;
    if (latencyMs !== null) {
      p.batches++;
      p.latencyMsSum += latencyMs;
      p.latencyMsMax = Math.max(p.latencyMsMax, latencyMs);
    }
  }

  private coarsen(): void {
    this.bucketMs *= 2;
    const merged = new Map<number, SeriesPoint>();
    for (const p of this.points) {
      const t = Math.floor(p.t / this.bucketMs) * this.bucketMs;
      const q = merged.get(t);
      if (!q) merged.set(t, { ...p, t });
      else {
        q.records += p.records;
        q.bytes += p.bytes;
        q.batches += p.batches;
        q.latencyMsSum += p.latencyMsSum;
        q.latencyMsMax = Math.max(q.latencyMsMax, p.latencyMsMax);
      }
    }
    this.points = [...merged.values()].sort((a, b) => a.t - b.t);
  }

  merge(points: readonly SeriesPoint[], bucketMs: number): void {
    while (this.bucketMs < bucketMs) this.coarsen();
    for (const p of points) {
      // spread a coarser bucket's totals at its start: the shape is kept at the coarser grain
      this.add(p.t, p.records, p.bytes, null);
      const q = this.points.find((x) => x.t === Math.floor(p.t / this.bucketMs) * this.bucketMs);
      if (q) {
        q.batches += p.batches;
        q.latencyMsSum += p.latencyMsSum;
        q.latencyMsMax = Math.max(q.latencyMsMax, p.latencyMsMax);
      }
    }
  }
}

/** Latency buckets: 8 per power of two from 2^-10 ms (1 µs) to 2^22 ms (70 min). Relative error below 9 %. */
const LAT_PER_OCTAVE = 8;
const LAT_MIN_LOG2 = -10;
const LAT_BUCKETS = (22 - LAT_MIN_LOG2) * LAT_PER_OCTAVE;

export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** [bucket, count] pairs of the non-empty buckets (for merging). */
  buckets: [number, number][];
}

export class LatencyHistogram {
  private readonly counts = new Float64Array(LAT_BUCKETS);
  count = 0;
  max = 0;

  add(ms: number): void {
    if (!(ms >= 0)) return;
    this.addBucket(LatencyHistogram.bucketOf(ms), 1);
    this.max = Math.max(this.max, ms);
  }

  static bucketOf(ms: number): number {
    if (ms <= 0) return 0;
    const b = Math.floor((Math.log2(ms) - LAT_MIN_LOG2) * LAT_PER_OCTAVE);
    return Math.max(0, Math.min(LAT_BUCKETS - 1, b));
  }

  /** Upper edge of a bucket, in ms. */
  static upperOf(bucket: number): number {
    return 2 ** ((bucket + 1) / LAT_PER_OCTAVE + LAT_MIN_LOG2);
  }

  addBucket(bucket: number, n: number): void {
    if (bucket < 0 || bucket >= LAT_BUCKETS || !(n > 0)) return;
    this.counts[bucket] += n;
    this.count += n;
  }

  percentile(p: number): number {
    if (this.count === 0) return 0;
    const rank = Math.ceil(p * this.count);
    let acc = 0;
    for (let b = 0; b < LAT_BUCKETS; b++) {
      acc += this.counts[b];
      if (acc >= rank) return Math.min(this.max, LatencyHistogram.upperOf(b));
    }
    return this.max;
  }

  summary(): LatencySummary {
    const buckets: [number, number][] = [];
    for (let b = 0; b < LAT_BUCKETS; b++) if (this.counts[b] > 0) buckets.push([b, this.counts[b]]);
    return { count: this.count, p50: this.percentile(0.5), p90: this.percentile(0.9), p99: this.percentile(0.99), max: this.max, buckets };
  }

  merge(s: LatencySummary): void {
    for (const [b, n] of s.buckets) this.addBucket(b, n);
    this.max = Math.max(this.max, s.max);
  }
}
