/**
 * In-process figures: SwitchedMoE.routeBatch on pre-packed batches, per
 * backend, corpus and batch size. Batches are views into the corpus built
 * before timing starts, so a sample is the routing alone (and, for the GPU,
 * its upload, dispatch and readback: the stages come from BatchRouting.timings).
 */
import type { PackedBatch } from '../model/packed-batch.js';
import type { BatchRouting, SwitchedMoE } from '../router/switched-moe.js';
import { corpusBytes, corpusRecords, type BenchCorpus } from './corpora.js';
import type { Sampler, SampleLimits } from './sampler.js';

export type InProcessBackend = 'cpu-reference' | 'cpu' | 'gpu';
export const IN_PROCESS_BACKENDS: readonly InProcessBackend[] = ['cpu-reference', 'cpu', 'gpu'];

export interface BatchPoint {
  corpus: string;
  backend: InProcessBackend;
  batchRecords: number;
  /** Mean UTF-8 bytes per batch. */
  batchBytes: number;
  samples: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  mbPerSecond: number;
  recordsPerSecond: number;
  /** Mean ms per batch of each BatchRouting.timings field (packMs, computeMs, uploadMs, waitMs, ...). */
  stages: Record<string, number>;
  /** Why this point was not measured (too slow for the time cap, over the memory cap). */
  skipped?: string;
}

export interface BatchRunOptions {
  batchSizes: readonly number[];
  limits: SampleLimits;
  /** Skip a point whose single batch is predicted to take longer than this. */
  maxBatchMs: number;
  /** Largest batch built by repeating the corpus (memory cap). */
  maxBatchBytes: number;
  sampler: Sampler;
  onProgress?: (line: string) => void;
}

/** At most this many distinct batches per point, so building them stays cheap and memory small. */
const RING = 8;

function view(c: PackedBatch, start: number, count: number): PackedBatch {
  const base = c.offsets[start];
  const offsets = new Uint32Array(count + 1);
  for (let i = 0; i <= count; i++) offsets[i] = c.offsets[start + i] - base;
  return { bytes: c.bytes.subarray(base, c.offsets[start + count]), offsets };
}

/** A batch of `count` records larger than the corpus: the corpus repeated, then its first records. */
function tiled(c: PackedBatch, count: number): PackedBatch {
  const n = c.offsets.length - 1;
  const total = c.offsets[n];
  const whole = Math.floor(count / n);
  const rest = count - whole * n;
  const bytes = new Uint8Array(whole * total + c.offsets[rest]);
  const offsets = new Uint32Array(count + 1);
  for (let w = 0; w <= whole; w++) {
    const take = w < whole ? n : rest;
    if (take === 0) break;
    bytes.set(c.bytes.subarray(0, c.offsets[take]), w * total);
    for (let i = 1; i <= take; i++) offsets[w * n + i] = w * total + c.offsets[i];
  }
  return { bytes, offsets };
}

/** The batches one point cycles through: up to RING disjoint windows, or one tiled batch. */
export function batchesOf(c: BenchCorpus, count: number): PackedBatch[] {
  const n = corpusRecords(c);
  if (count > n) return [tiled(c.batch, count)];
  const windows = Math.min(RING, Math.floor(n / count));
  const out: PackedBatch[] = [];
  for (let w = 0; w < windows; w++) out.push(view(c.batch, w * count, count));
  return out;
}

function addStages(into: Record<string, number>, r: BatchRouting): void {
  for (const [k, v] of Object.entries(r.timings)) {
    if (typeof v === 'number' && Number.isFinite(v)) into[k] = (into[k] ?? 0) + v;
  }
}

/** Every batch size of one backend on one corpus, smallest first; a point predicted too slow is skipped, with the reason. */
export async function measureBackend(moe: SwitchedMoE, backend: InProcessBackend, corpus: BenchCorpus, o: BatchRunOptions): Promise<BatchPoint[]> {
  const points: BatchPoint[] = [];
  const n = corpusRecords(corpus);
  const meanRecordBytes = n > 0 ? corpusBytes(corpus) / n : 0;
  let bytesPerMs = 0;
  // One untimed call first: the GPU compiles its pipelines, V8 its code.
  await moe.routeBatch(view(corpus.batch, 0, Math.min(n, 1000)), { backend });
  for (const size of o.batchSizes) {
    const expectedBytes = size * meanRecordBytes;
    const base = { corpus: corpus.name, backend, batchRecords: size, batchBytes: Math.round(expectedBytes) };
    const empty = { samples: 0, p50Ms: 0, p99Ms: 0, meanMs: 0, mbPerSecond: 0, recordsPerSecond: 0, stages: {} };
    if (size > n && expectedBytes > o.maxBatchBytes) {
      points.push({ ...base, ...empty, skipped: `a batch of ${size} records (${(expectedBytes / 1e6).toFixed(0)} MB) is over the memory cap (--max-batch-bytes)` });
      continue;
    }
    const predictedMs = bytesPerMs > 0 ? expectedBytes / bytesPerMs : 0;
    if (predictedMs > o.maxBatchMs) {
      points.push({ ...base, ...empty, skipped: `one batch would take about ${(predictedMs / 1000).toFixed(1)} s (time cap ${(o.maxBatchMs / 1000).toFixed(1)} s)` });
      continue;
    }
    const ring = batchesOf(corpus, size);
    // The GPU grows its buffers on the first batch of a new size: keep that out of the samples when it is cheap to.
    if (predictedMs < o.maxBatchMs / 4) await moe.routeBatch(ring[0], { backend });
    // A huge batch gets fewer samples than minSamples rather than minutes of repeats (the report shows the count).
    const limits = predictedMs > 0 && predictedMs * o.limits.minSamples > 2 * o.limits.budgetMs
      ? { ...o.limits, minSamples: Math.max(1, Math.floor((2 * o.limits.budgetMs) / predictedMs)) }
      : o.limits;
    let k = 0;
    let bytes = 0;
    let calls = 0;
    const stages: Record<string, number> = {};
    const t = await o.sampler(`${backend} | ${corpus.kind} | ${size}`, async () => {
      const b = ring[k++ % ring.length];
      const r = await moe.routeBatch(b, { backend });
      bytes += b.offsets[b.offsets.length - 1];
      calls++;
      addStages(stages, r);
    }, limits);
    const meanBytes = calls ? bytes / calls : 0;
    for (const key of Object.keys(stages)) stages[key] /= Math.max(1, calls);
    const point: BatchPoint = {
      ...base,
      batchBytes: Math.round(meanBytes),
      samples: t.samples,
      p50Ms: t.p50Ms,
      p99Ms: t.p99Ms,
      meanMs: t.meanMs,
      mbPerSecond: t.meanMs > 0 ? meanBytes / 1e6 / (t.meanMs / 1000) : 0,
      recordsPerSecond: t.meanMs > 0 ? size / (t.meanMs / 1000) : 0,
      stages,
    };
    if (t.meanMs > 0 && meanBytes > 0) bytesPerMs = meanBytes / t.meanMs;
    points.push(point);
    o.onProgress?.(`${backend} ${corpus.kind} batch ${size}: ${point.mbPerSecond.toFixed(1)} MB/s (${t.samples} samples)`);
  }
  return points;
}

export interface GpuWin {
  corpus: string;
  /** The smallest measured batch size from which on the GPU beats the CPU at every larger measured size; null: it never does. */
  batchRecords: number | null;
  versus: InProcessBackend;
}

export function gpuWins(points: readonly BatchPoint[], corpus: string, versus: InProcessBackend = 'cpu'): GpuWin {
  const rate = (backend: InProcessBackend): Map<number, number> =>
    new Map(points.filter((p) => p.corpus === corpus && p.backend === backend && !p.skipped).map((p) => [p.batchRecords, p.mbPerSecond]));
  const gpu = rate('gpu');
  const cpu = rate(versus);
  const sizes = [...gpu.keys()].filter((s) => cpu.has(s)).sort((a, b) => a - b);
  let from: number | null = null;
  for (const s of sizes) {
    if ((gpu.get(s) as number) > (cpu.get(s) as number)) from ??= s;
    else from = null;
  }
  return { corpus, batchRecords: from, versus };
}
