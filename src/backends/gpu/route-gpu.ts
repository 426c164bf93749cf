/**
 * Routes a packed batch on the GPU: for each group of strings, clear the
 * statistics, upload and count every byte window (statistics.wgsl), score
 * (score.wgsl), and read back only the small per-string results. Buffers and
 * pipelines are created once per router and grown when a larger batch needs
 * it, never per batch.
 */
import { STATS_STRIDE } from '../../model/complexity-model.js';
import type { RouterConfig } from '../../model/router-config.js';
import type { FixedRouting } from '../cpu-reference/score.js';
import { ITEM_WORDS, effectivePlanLimits, planWindows, type PlanLimits, type Window } from './batch-plan.js';
import type { GpuContext } from './gpu-context.js';
import { RESULT_WORDS, ScoreKernel } from './score-kernel.js';
import { StatisticsKernel } from './statistics-kernel.js';
import { WORKGROUP_SIZE } from './shader-source.js';

export interface GpuRouting extends FixedRouting {
  stats?: Uint32Array;
  timings: { uploadMs: number; waitMs: number };
}

type BufferName = 'bytes' | 'items' | 'stats' | 'results' | 'readback' | 'statsReadback';

/** Usage flags per buffer; a function because GPUBufferUsage exists only once Dawn is loaded. */
function usage(name: BufferName): GPUBufferUsageFlags {
  const U = GPUBufferUsage;
  switch (name) {
    case 'bytes':
    case 'items':
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

export class GpuRouter {
  private readonly statistics: StatisticsKernel;
  private readonly score: ScoreKernel;
  private readonly buffers = new Map<BufferName, GPUBuffer>();
  private readonly statParams: GPUBuffer;
  private readonly scoreParams: GPUBuffer;
  private readonly items: Uint32Array;
  readonly limits: PlanLimits;
  /** Serialises route() calls: they share the buffers. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly ctx: GpuContext,
    config: RouterConfig,
    requested: PlanLimits,
  ) {
    this.limits = effectivePlanLimits(requested, WORKGROUP_SIZE);
    const limits = this.limits;
    this.statistics = new StatisticsKernel(ctx);
    this.score = new ScoreKernel(ctx, config);
    const uniform = GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST;
    this.statParams = ctx.device.createBuffer({ label: 'statistics params', size: 16, usage: uniform });
    this.scoreParams = ctx.device.createBuffer({ label: 'score params', size: 16, usage: uniform });
    this.items = new Uint32Array(limits.itemsPerWindow * ITEM_WORDS);
  }

  route(bytes: Uint8Array, offsets: Uint32Array, includeStats: boolean): Promise<GpuRouting> {
    const run = this.queue.then(() => this.routeNow(bytes, offsets, includeStats));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async routeNow(bytes: Uint8Array, offsets: Uint32Array, includeStats: boolean): Promise<GpuRouting> {
    const n = offsets.length - 1;
    const out: GpuRouting = {
      experts: new Uint32Array(n),
      scoresQ16: new Uint32Array(n),
      confidenceQ16: new Uint32Array(n),
      stats: includeStats ? new Uint32Array(n * STATS_STRIDE) : undefined,
      timings: { uploadMs: 0, waitMs: 0 },
    };
    try {
      for (let first = 0; first < n; first += this.limits.stringsPerGroup) {
        const end = Math.min(n, first + this.limits.stringsPerGroup);
        await this.ctx.checked('routing a batch', () => this.routeGroup(bytes, offsets, first, end, out));
      }
    } catch (err) {
      // A buffer left in a bad size or state must not poison the next batch.
      this.releaseBuffers();
      throw err;
    }
    return out;
  }

  private async routeGroup(bytes: Uint8Array, offsets: Uint32Array, first: number, end: number, out: GpuRouting): Promise<void> {
    const device = this.ctx.device;
    const queue = device.queue;
    const count = end - first;
    const perDim = this.limits.workgroupsPerDimension;
    const t0 = performance.now();
    const statsBytes = count * STATS_STRIDE * 4;
    const stats = this.buffer('stats', statsBytes);
    const clear = device.createCommandEncoder();
    clear.clearBuffer(stats, 0, statsBytes);
    queue.submit([clear.finish()]);

    for (const w of planWindows(bytes, offsets, first, end, this.limits, this.items)) {
      this.upload(bytes, w);
      queue.writeBuffer(this.statParams, 0, new Uint32Array([w.itemCount, 0, 0, 0]));
      const encoder = device.createCommandEncoder();
      this.statistics.encode(
        encoder,
        { bytes: this.buffer('bytes', w.byteLength), items: this.buffer('items', w.itemCount * ITEM_WORDS * 4), stats, params: this.statParams },
        w.itemCount,
        perDim,
      );
      queue.submit([encoder.finish()]);
    }

    const resultBytes = count * RESULT_WORDS * 4;
    const results = this.buffer('results', resultBytes);
    const readback = this.buffer('readback', resultBytes);
    queue.writeBuffer(this.scoreParams, 0, new Uint32Array([count, 0, 0, 0]));
    const encoder = device.createCommandEncoder();
    this.score.encode(encoder, { stats, results, params: this.scoreParams }, count, perDim);
    encoder.copyBufferToBuffer(results, 0, readback, 0, resultBytes);
    const statsReadback = out.stats ? this.buffer('statsReadback', statsBytes) : null;
    if (statsReadback) encoder.copyBufferToBuffer(stats, 0, statsReadback, 0, statsBytes);
    queue.submit([encoder.finish()]);
    const t1 = performance.now();
    out.timings.uploadMs += t1 - t0;

    try {
      await readback.mapAsync(GPUMapMode.READ, 0, resultBytes);
      const r = new Uint32Array(readback.getMappedRange(0, resultBytes));
      for (let i = 0; i < count; i++) {
        out.scoresQ16[first + i] = r[i * RESULT_WORDS];
        out.experts[first + i] = r[i * RESULT_WORDS + 1];
        out.confidenceQ16[first + i] = r[i * RESULT_WORDS + 2];
      }
      readback.unmap();
      if (statsReadback && out.stats) {
        await statsReadback.mapAsync(GPUMapMode.READ, 0, statsBytes);
        out.stats.set(new Uint32Array(statsReadback.getMappedRange(0, statsBytes)), first * STATS_STRIDE);
        statsReadback.unmap();
      }
    } catch (err) {
      throw await this.ctx.translate(err);
    }
    out.timings.waitMs += performance.now() - t1;
  }

  /** Copies a window's bytes (padded to 4) and items to the GPU. */
  private upload(bytes: Uint8Array, w: Window): void {
    const queue = this.ctx.device.queue;
    const target = this.buffer('bytes', w.byteLength);
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
    queue.writeBuffer(this.buffer('items', w.itemCount * ITEM_WORDS * 4), 0, w.items, 0, w.itemCount * ITEM_WORDS);
  }

  /** The named buffer, grown (to the next power of two) if smaller than `size` bytes. */
  private buffer(name: BufferName, size: number): GPUBuffer {
    const current = this.buffers.get(name);
    if (current && current.size >= size) return current;
    current?.destroy();
    let grown = 256;
    while (grown < size) grown *= 2;
    const max = Math.min(this.ctx.limits.maxBufferSize, name === 'readback' || name === 'statsReadback' ? Infinity : this.ctx.limits.maxStorageBufferBindingSize);
    const created = this.ctx.device.createBuffer({ label: name, size: Math.max(size, Math.min(grown, max)), usage: usage(name) });
    this.buffers.set(name, created);
    return created;
  }

  private releaseBuffers(): void {
    for (const b of this.buffers.values()) b.destroy();
    this.buffers.clear();
  }

  destroy(): void {
    this.releaseBuffers();
    this.statParams.destroy();
    this.scoreParams.destroy();
  }
}
