/**
 * Routes a packed batch on the GPU: for each group of strings, upload the
 * group's offsets and its raw bytes window by window, count them
 * (statistics.wgsl), score (score.wgsl), and read back two u32 per string.
 *
 * Groups go through a ring of RING_SIZE buffer sets, taken in call order:
 * while one group's results are being mapped, the next batch's group uploads
 * and computes in another set, and route() never waits for an earlier
 * route() except for a free set. Buffers and pipelines are created once per
 * router and grown when a larger group needs it, never per batch.
 */
import { STATS_STRIDE } from '../../model/complexity-model.js';
import type { RouterConfig } from '../../model/router-config.js';
import type { FixedRouting } from '../cpu-reference/score.js';
import { PIECE_WORDS, effectivePlanLimits, headBytes, planWindows, type PlanLimits, type Window } from './batch-plan.js';
import type { GpuContext } from './gpu-context.js';
import { RESULT_WORDS, SCORE_BITS, SCORE_MASK } from './result-layout.js';
import { ScoreKernel } from './score-kernel.js';
import { STATISTICS_PARAM_WORDS, StatisticsKernel } from './statistics-kernel.js';
import { WORKGROUP_SIZE } from './shader-source.js';

/** Buffer sets in the ring: upload of k + 1, compute of k and readback of k - 1 at once. */
export const RING_SIZE = 3;

/** Where one route() spent its time, summed over its groups (ms), and what crossed the bus (bytes). */
export interface GpuStageTimings {
  /** Host preparation: planning the windows, growing buffers, result arrays. */
  prepareMs: number;
  /** Queueing the uploads (bytes, offsets, params) with writeBuffer. */
  uploadMs: number;
  /** Encoding and submitting the dispatches; on Dawn's GL ES backend the dispatch itself runs inside submit. */
  kernelMs: number;
  /** From the last submit until the results were mapped and copied out. */
  readbackMs: number;
  /** Old name of readbackMs, kept for existing readers. */
  waitMs: number;
  /** Waiting for a free buffer set of the ring (earlier batches still in flight). */
  ringWaitMs: number;
  /** Statistics and score passes measured on the GPU with timestamp queries, where the device has them. */
  gpuKernelMs?: number;
  uploadBytes: number;
  readbackBytes: number;
}

export interface GpuRouting extends FixedRouting {
  stats?: Uint32Array;
  timings: GpuStageTimings;
}

type BufferName = 'bytes' | 'offsets' | 'pieces' | 'stats' | 'results' | 'readback' | 'statsReadback';

/** Usage flags per buffer; a function because GPUBufferUsage exists only once Dawn is loaded. */
function usage(name: BufferName): GPUBufferUsageFlags {
  const U = GPUBufferUsage;
  switch (name) {
    case 'bytes':
    case 'offsets':
    case 'pieces':
      return U.STORAGE | U.COPY_DST;
    case 'stats':
      return U.STORAGE | U.COPY_DST | U.COPY_SRC;
    case 'results':
      return U.STORAGE | U.COPY_SRC;
    case 'readback':
    case 'statsReadback':
      return U.MAP_READ | U.COPY_DST;
  }
}

/** Timestamp slots: statistics begin/end, score begin/end. */
const TIMESTAMPS = 4;

interface TimestampSet {
  query: GPUQuerySet;
  resolve: GPUBuffer;
  readback: GPUBuffer;
}

/** One set of buffers: everything a group needs from upload to readback. */
class BufferSet {
  private readonly buffers = new Map<BufferName, GPUBuffer>();
  readonly statParams: GPUBuffer;
  readonly scoreParams: GPUBuffer;
  readonly timestamps: TimestampSet | null;
  /** Settles when the group now using this set has read its results back. */
  free: Promise<void> = Promise.resolve();

  constructor(
    private readonly ctx: GpuContext,
    index: number,
  ) {
    const device = ctx.device;
    const uniform = GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST;
    this.statParams = device.createBuffer({ label: `statistics params ${index}`, size: STATISTICS_PARAM_WORDS * 4, usage: uniform });
    this.scoreParams = device.createBuffer({ label: `score params ${index}`, size: 16, usage: uniform });
    this.timestamps = ctx.timestamps
      ? {
          query: device.createQuerySet({ label: `timestamps ${index}`, type: 'timestamp', count: TIMESTAMPS }),
          resolve: device.createBuffer({ label: `timestamps ${index}`, size: TIMESTAMPS * 8, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC }),
          readback: device.createBuffer({ label: `timestamps readback ${index}`, size: TIMESTAMPS * 8, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }),
        }
      : null;
  }

  /** The named buffer, grown (to the next power of two) if smaller than `size` bytes. */
  buffer(name: BufferName, size: number): GPUBuffer {
    const current = this.buffers.get(name);
    if (current && current.size >= size) return current;
    current?.destroy();
    let grown = 256;
    while (grown < size) grown *= 2;
    const limits = this.ctx.limits;
    const mappable = name === 'readback' || name === 'statsReadback';
    const max = Math.min(limits.maxBufferSize, mappable ? Infinity : limits.maxStorageBufferBindingSize);
    const created = this.ctx.device.createBuffer({ label: name, size: Math.max(size, Math.min(grown, max)), usage: usage(name) });
    this.buffers.set(name, created);
    return created;
  }

  /**
   * After a failed group: drops the grown buffers (one left in a bad size or
   * state must not poison the next group) and unmaps the timestamp readback,
   * which a failed group can leave mapped or mapping (unmap aborts that).
   */
  release(): void {
    for (const b of this.buffers.values()) b.destroy();
    this.buffers.clear();
    this.timestamps?.readback.unmap();
  }

  destroy(): void {
    this.release();
    this.statParams.destroy();
    this.scoreParams.destroy();
    if (this.timestamps) {
      this.timestamps.query.destroy();
      this.timestamps.resolve.destroy();
      this.timestamps.readback.destroy();
    }
  }
}

/** A group whose commands are submitted and whose results are being mapped. */
interface Submitted {
  count: number;
  resultBytes: number;
  statsBytes: number;
  readback: GPUBuffer;
  statsReadback: GPUBuffer | null;
  timestamps: GPUBuffer | null;
  windows: number;
  maps: Promise<unknown>;
}

export class GpuRouter {
  private readonly statistics: StatisticsKernel;
  private readonly score: ScoreKernel;
  private readonly ring: BufferSet[] = [];
  private next = 0;
  readonly limits: PlanLimits;
  private readonly headBytes: number;

  /**
   * `reducePieces` (default: on hardware adapters only) sums a long string's
   * pieces per workgroup before the global atomics; tests force it either way.
   */
  constructor(
    private readonly ctx: GpuContext,
    config: RouterConfig,
    requested: PlanLimits,
    options: { reducePieces?: boolean } = {},
  ) {
    this.limits = effectivePlanLimits(requested, WORKGROUP_SIZE);
    this.headBytes = headBytes(this.limits);
    this.statistics = new StatisticsKernel(ctx, { reducePieces: options.reducePieces ?? !ctx.software });
    this.score = new ScoreKernel(ctx, config);
    for (let i = 0; i < RING_SIZE; i++) this.ring.push(new BufferSet(ctx, i));
  }

  /** Routes a batch; several calls may be in flight, each group taking the next buffer set of the ring. */
  async route(bytes: Uint8Array, offsets: Uint32Array, includeStats: boolean): Promise<GpuRouting> {
    const t0 = performance.now();
    const n = offsets.length - 1;
    const out: GpuRouting = {
      experts: new Uint32Array(n),
      scoresQ16: new Uint32Array(n),
      confidenceQ16: new Uint32Array(n),
      stats: includeStats ? new Uint32Array(n * STATS_STRIDE) : undefined,
      timings: { prepareMs: 0, uploadMs: 0, kernelMs: 0, readbackMs: 0, waitMs: 0, ringWaitMs: 0, uploadBytes: 0, readbackBytes: 0 },
    };
    if (this.ring[0].timestamps) out.timings.gpuKernelMs = 0;
    out.timings.prepareMs += performance.now() - t0;
    // Every group takes its set now, in call order, so batches keep their order in the ring.
    const groups: Promise<void>[] = [];
    for (let first = 0; first < n; first += this.limits.stringsPerGroup) {
      groups.push(this.routeGroup(bytes, offsets, first, Math.min(n, first + this.limits.stringsPerGroup), out));
    }
    const settled = await Promise.allSettled(groups);
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    out.timings.waitMs = out.timings.readbackMs;
    return out;
  }

  private async routeGroup(bytes: Uint8Array, offsets: Uint32Array, first: number, end: number, out: GpuRouting): Promise<void> {
    const set = this.ring[this.next];
    this.next = (this.next + 1) % RING_SIZE;
    const previous = set.free;
    let release = (): void => undefined;
    set.free = new Promise<void>((resolve) => {
      release = resolve;
    });
    try {
      const t0 = performance.now();
      await previous;
      out.timings.ringWaitMs += performance.now() - t0;
      const submitted = await this.submitGroup(set, bytes, offsets, first, end, out);
      await this.readBack(submitted, first, out);
    } catch (err) {
      set.release();
      throw err;
    } finally {
      release();
    }
  }

  /** Uploads, dispatches and starts mapping one group; every WebGPU call inside one pair of error scopes. */
  private submitGroup(
    set: BufferSet,
    bytes: Uint8Array,
    offsets: Uint32Array,
    first: number,
    end: number,
    out: GpuRouting,
  ): Promise<Submitted> {
    const t = out.timings;
    return this.ctx.scoped('routing a batch', (): Submitted => {
      const device = this.ctx.device;
      const queue = device.queue;
      const perDim = this.limits.workgroupsPerDimension;
      let mark = performance.now();
      const lap = (stage: 'prepareMs' | 'uploadMs' | 'kernelMs'): void => {
        const now = performance.now();
        t[stage] += now - mark;
        mark = now;
      };
      const count = end - first;
      const windows = planWindows(offsets, first, end, this.limits);
      const statsBytes = count * STATS_STRIDE * 4;
      const resultBytes = count * RESULT_WORDS * 4;
      const stats = set.buffer('stats', statsBytes);
      const offsetsBuffer = set.buffer('offsets', (count + 1) * 4);
      const results = set.buffer('results', resultBytes);
      const readback = set.buffer('readback', resultBytes);
      const statsReadback = out.stats ? set.buffer('statsReadback', statsBytes) : null;
      const ts = set.timestamps;
      lap('prepareMs');

      // Dawn rejects views of a SharedArrayBuffer: copy the group's offsets then (4 bytes a string).
      if (offsets.buffer instanceof SharedArrayBuffer) queue.writeBuffer(offsetsBuffer, 0, offsets.slice(first, end + 1));
      else queue.writeBuffer(offsetsBuffer, 0, offsets, first, count + 1);
      t.uploadBytes += (count + 1) * 4;
      lap('uploadMs');

      let encoder = device.createCommandEncoder();
      encoder.clearBuffer(stats, 0, statsBytes);
      for (let i = 0; i < windows.length; i++) {
        const w = windows[i];
        t.uploadBytes += this.upload(set, bytes, w);
        lap('uploadMs');
        // A pass may not carry timestampWrites without an index: only the first and last windows write.
        const timestampWrites = ts && (i === 0 || i === windows.length - 1)
          ? {
              querySet: ts.query,
              ...(i === 0 ? { beginningOfPassWriteIndex: 0 } : {}),
              ...(i === windows.length - 1 ? { endOfPassWriteIndex: 1 } : {}),
            }
          : undefined;
        const pieces = set.buffer('pieces', Math.max(16, w.pieces.byteLength));
        const binding = { bytes: set.buffer('bytes', w.byteLength), offsets: offsetsBuffer, pieces, stats, params: set.statParams };
        this.statistics.encode(encoder, binding, w.heads + w.pieces.length / PIECE_WORDS, perDim, timestampWrites);
        queue.submit([encoder.finish()]);
        encoder = device.createCommandEncoder();
        lap('kernelMs');
      }

      const scoreParams = new Uint32Array([count, 0, 0, 0]);
      queue.writeBuffer(set.scoreParams, 0, scoreParams);
      t.uploadBytes += scoreParams.byteLength;
      lap('uploadMs');
      const scoreTimestamps = ts ? { querySet: ts.query, beginningOfPassWriteIndex: 2, endOfPassWriteIndex: 3 } : undefined;
      this.score.encode(encoder, { stats, results, params: set.scoreParams }, count, perDim, scoreTimestamps);
      encoder.copyBufferToBuffer(results, 0, readback, 0, resultBytes);
      if (statsReadback) encoder.copyBufferToBuffer(stats, 0, statsReadback, 0, statsBytes);
      if (ts) {
        encoder.resolveQuerySet(ts.query, 0, TIMESTAMPS, ts.resolve, 0);
        encoder.copyBufferToBuffer(ts.resolve, 0, ts.readback, 0, TIMESTAMPS * 8);
      }
      queue.submit([encoder.finish()]);
      const maps = Promise.all([
        readback.mapAsync(GPUMapMode.READ, 0, resultBytes),
        statsReadback?.mapAsync(GPUMapMode.READ, 0, statsBytes),
        ts?.readback.mapAsync(GPUMapMode.READ, 0, TIMESTAMPS * 8),
      ]);
      maps.catch(() => undefined); // awaited in readBack; a failed scope must not leave it unhandled
      lap('kernelMs');
      return { count, resultBytes, statsBytes, readback, statsReadback, timestamps: ts?.readback ?? null, windows: windows.length, maps };
    });
  }

  /** Waits for the group's mapped results and unpacks them into `out`. */
  private async readBack(g: Submitted, first: number, out: GpuRouting): Promise<void> {
    const t = out.timings;
    const t0 = performance.now();
    try {
      await g.maps;
    } catch (err) {
      throw await this.ctx.translate(err);
    }
    const r = new Uint32Array(g.readback.getMappedRange(0, g.resultBytes));
    const { experts, scoresQ16, confidenceQ16 } = out;
    for (let i = 0, j = first; i < g.count; i++, j++) {
      const packed = r[i * RESULT_WORDS];
      scoresQ16[j] = packed & SCORE_MASK;
      experts[j] = packed >>> SCORE_BITS;
      confidenceQ16[j] = r[i * RESULT_WORDS + 1];
    }
    g.readback.unmap();
    t.readbackBytes += g.resultBytes;
    if (g.statsReadback && out.stats) {
      out.stats.set(new Uint32Array(g.statsReadback.getMappedRange(0, g.statsBytes)), first * STATS_STRIDE);
      g.statsReadback.unmap();
      t.readbackBytes += g.statsBytes;
    }
    if (g.timestamps) {
      const ns = new BigUint64Array(g.timestamps.getMappedRange(0, TIMESTAMPS * 8));
      const span = (a: number, b: number): number => (ns[b] > ns[a] ? Number(ns[b] - ns[a]) / 1e6 : 0);
      t.gpuKernelMs = (t.gpuKernelMs ?? 0) + (g.windows > 0 ? span(0, 1) : 0) + span(2, 3);
      g.timestamps.unmap();
      t.readbackBytes += TIMESTAMPS * 8;
    }
    t.readbackMs += performance.now() - t0;
  }

  /** Queues a window's bytes (padded to 4) and its params; returns the bytes queued. */
  private upload(set: BufferSet, bytes: Uint8Array, w: Window): number {
    const queue = this.ctx.device.queue;
    const target = set.buffer('bytes', w.byteLength);
    const inside = Math.min(w.byteLength, bytes.length - w.byteStart) & ~3;
    if (inside > 0) {
      // Dawn's Node binding rejects views of a SharedArrayBuffer ("Invalid argument"): copy just this window
      if (bytes.buffer instanceof SharedArrayBuffer) queue.writeBuffer(target, 0, bytes.slice(w.byteStart, w.byteStart + inside));
      else queue.writeBuffer(target, 0, bytes, w.byteStart, inside);
    }
    if (w.byteLength > inside) {
      const tail = new Uint8Array(w.byteLength - inside);
      tail.set(bytes.subarray(w.byteStart + inside, Math.min(bytes.length, w.byteStart + w.byteLength)));
      queue.writeBuffer(target, inside, tail);
    }
    if (w.pieces.length > 0) queue.writeBuffer(set.buffer('pieces', w.pieces.byteLength), 0, w.pieces);
    const params = new Uint32Array(STATISTICS_PARAM_WORDS);
    params.set([w.byteStart, w.firstString, w.heads, w.pieces.length / PIECE_WORDS, this.headBytes]);
    queue.writeBuffer(set.statParams, 0, params);
    return w.byteLength + w.pieces.byteLength + params.byteLength;
  }

  destroy(): void {
    for (const set of this.ring) set.destroy();
  }
}
