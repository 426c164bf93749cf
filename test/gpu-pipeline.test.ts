/**
 * The GPU host pipeline: what the planner uploads (raw bytes, 4-byte offsets,
 * a table only for pieces of long strings), what is read back (8 bytes per
 * string), batches overlapping in the ring of buffer sets, and the stage
 * timings. Exactness of every result is checked against the CPU reference.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { SwitchedMoE, GpuError, type PackedBatch, type PlanLimits } from '../src/index.js';
import { PIECE_WORDS, headBytes, planWindows } from '../src/backends/gpu/batch-plan.js';
import { GpuContext } from '../src/backends/gpu/gpu-context.js';
import { GpuRouter, RING_SIZE } from '../src/backends/gpu/route-gpu.js';
import { defaultPlanLimits } from '../src/backends/gpu/batch-plan.js';
import { resolveRouterConfig } from '../src/model/router-config.js';
import { STATS_STRIDE } from '../src/model/complexity-model.js';
import { computeStatistics } from '../src/backends/cpu-reference/statistics.js';
import { scoreStatistics } from '../src/backends/cpu-reference/score.js';
import { describeGpu } from './helpers/gpu.js';
import { expectIdenticalRouting } from './helpers/exact.js';
import { packBytes, randomBytes, randomInt, randomText, rng } from './helpers/random.js';

const limits = (l: Partial<PlanLimits>): PlanLimits => ({
  chunkBytes: 1024,
  windowBytes: 1 << 20,
  itemsPerWindow: 1 << 20,
  stringsPerGroup: 1 << 19,
  workgroupsPerDimension: 65535,
  ...l,
});

/** Offsets of n strings: mostly short, some empty, some far longer than a chunk. */
function randomOffsets(seed: number, n: number, longEvery: number, longMax: number, start = 0): Uint32Array {
  const r = rng(seed);
  const o = new Uint32Array(n + 1);
  o[0] = start;
  for (let i = 0; i < n; i++) {
    const len = i % longEvery === longEvery - 1 ? randomInt(r, longMax) : randomInt(r, 3) === 0 ? 0 : randomInt(r, 80);
    o[i + 1] = o[i] + len;
  }
  return o;
}

/**
 * Checks a plan the way the shader reads it: every byte of every string is
 * counted exactly once, by a head (whole short string) or a piece, inside its
 * window's upload, with the byte before every piece that does not start its
 * string. Returns the problems found (plain checks: one expect per piece is slow).
 */
function planProblems(offsets: Uint32Array, first: number, end: number, l: PlanLimits): string[] {
  const problems: string[] = [];
  const check = (ok: boolean, what: () => string): void => {
    if (!ok && problems.length < 10) problems.push(what());
  };
  const windows = planWindows(offsets, first, end, l);
  const headMax = headBytes(l);
  const counted = new Float64Array(end - first);
  windows.forEach((w, i) => {
    const pieces = w.pieces.length / PIECE_WORDS;
    check(w.byteStart % 4 === 0 && w.byteLength % 4 === 0, () => `window ${i}: not 4-aligned`);
    check(w.byteLength <= l.windowBytes, () => `window ${i}: ${w.byteLength} bytes > windowBytes`);
    check(w.heads + pieces > 0 && w.heads + pieces <= l.itemsPerWindow, () => `window ${i}: ${w.heads} heads + ${pieces} pieces`);
    const inside = (p: number): boolean => p >= w.byteStart && p <= w.byteStart + w.byteLength;
    for (let h = 0; h < w.heads; h++) {
      const s = first + w.firstString + h;
      check(s < end, () => `window ${i}: head ${s} past the group`);
      const len = offsets[s + 1] - offsets[s];
      if (len === 0 || len > headMax) continue; // the shader skips these heads
      check(inside(offsets[s]) && inside(offsets[s + 1]), () => `window ${i}: string ${s} outside the upload`);
      counted[s - first] += len;
    }
    for (let k = 0; k < pieces; k++) {
      const [g, p, e] = w.pieces.subarray(k * PIECE_WORDS, k * PIECE_WORDS + 3);
      const s = first + g;
      check(offsets[s + 1] - offsets[s] > headMax, () => `window ${i}: a piece of short string ${s}`);
      check(e > p && e - p <= l.chunkBytes, () => `window ${i}: piece [${p}, ${e}) of ${e - p} bytes`);
      check(p >= offsets[s] && e <= offsets[s + 1], () => `window ${i}: piece [${p}, ${e}) outside string ${s}`);
      check(inside(p) && inside(e), () => `window ${i}: piece [${p}, ${e}) outside the upload`);
      check(p === offsets[s] || inside(p - 1), () => `window ${i}: the byte before piece [${p}, ${e}) not uploaded`);
      counted[s - first] += e - p;
    }
  });
  for (let s = first; s < end; s++) {
    check(counted[s - first] === offsets[s + 1] - offsets[s], () => `string ${s}: ${counted[s - first]} bytes counted of ${offsets[s + 1] - offsets[s]}`);
  }
  return problems;
}

describe('planWindows', () => {
  it.each<[string, Partial<PlanLimits>]>([
    ['defaults', {}],
    ['tiny chunks', { chunkBytes: 1 }],
    ['one invocation per window', { itemsPerWindow: 1, chunkBytes: 16 }],
    ['window smaller than a chunk', { windowBytes: 8, chunkBytes: 64 }],
    ['small everything', { windowBytes: 44, chunkBytes: 7, itemsPerWindow: 3 }],
    ['windows of 1 KiB', { windowBytes: 1024, chunkBytes: 100, itemsPerWindow: 50 }],
  ])('counts every byte once, within the limits: %s', (_, l) => {
    const offsets = randomOffsets(7, 600, 9, 5000, 3);
    expect(planProblems(offsets, 0, 600, limits(l))).toEqual([]);
    expect(planProblems(offsets, 17, 400, limits(l))).toEqual([]); // a group in the middle: offsets do not start at 0
  });

  it('uploads no table for short strings: the offsets are all the shader needs', () => {
    const offsets = randomOffsets(8, 10_000, Infinity, 0);
    const windows = planWindows(offsets, 0, 10_000, limits({}));
    expect(windows).toHaveLength(1);
    expect(windows[0].pieces.length).toBe(0);
    expect(windows[0].heads).toBe(10_000);
  });

  it('splits a 200 MB string into chunk-sized pieces across 64 MiB windows', () => {
    const big = 200_000_000;
    const offsets = Uint32Array.from([0, 5, 5 + big, 5 + big + 7]);
    const l = limits({ windowBytes: 64 << 20 });
    const windows = planWindows(offsets, 0, 3, l);
    expect(windows.length).toBe(Math.ceil((big + 12) / (64 << 20)));
    const pieces = windows.reduce((n, w) => n + w.pieces.length / PIECE_WORDS, 0);
    expect(pieces).toBeGreaterThanOrEqual(Math.ceil(big / 1024));
    expect(pieces).toBeLessThanOrEqual(Math.ceil(big / 1024) + windows.length);
    expect(planProblems(offsets, 0, 3, l)).toEqual([]);
  });
});

describeGpu('the GPU host pipeline', () => {
  const routers: SwitchedMoE[] = [];
  const router = (l: Partial<PlanLimits> = {}): SwitchedMoE => {
    const moe = new SwitchedMoE({ backend: 'gpu', gpu: { planLimits: l } });
    routers.push(moe);
    return moe;
  };
  afterAll(async () => {
    for (const moe of routers) await moe.dispose();
  });

  const shortLines = (seed: number, n: number): PackedBatch => {
    const r = rng(seed);
    return packBytes(Array.from({ length: n }, () => Buffer.from(randomText(r, 8))));
  };

  it('uploads the bytes, 4 bytes of offset per string and the params; reads back 8 bytes per string', async () => {
    const moe = router();
    const batch = shortLines(1, 5000);
    const r = await moe.routeBatch(batch);
    const text = batch.bytes.length;
    const params = 32 + 16; // statistics window params + score params
    expect(r.timings.uploadBytes).toBe(Math.ceil(text / 4) * 4 + 4 * 5001 + params);
    const stampBytes = r.timings.gpuKernelMs === undefined ? 0 : 32;
    expect(r.timings.readbackBytes).toBe(8 * 5000 + stampBytes);
    const withStats = await moe.routeBatch(batch, { includeStats: true });
    expect(withStats.timings.readbackBytes).toBe(8 * 5000 + 4 * STATS_STRIDE * 5000 + stampBytes);
    expectIdenticalRouting(withStats, await moe.routeBatch(batch, { backend: 'cpu', includeStats: true }), 'short lines');
  });

  it('reports every stage, and GPU kernel time exactly where the adapter has timestamp queries', async () => {
    const ctx = await GpuContext.open();
    const timestamps = ctx.timestamps;
    ctx.destroy();
    const r = await router().routeBatch(shortLines(2, 3000));
    const t = r.timings;
    for (const stage of ['prepareMs', 'uploadMs', 'kernelMs', 'readbackMs', 'waitMs', 'ringWaitMs'] as const) {
      expect(t[stage], stage).toBeTypeOf('number');
      expect(t[stage], stage).toBeGreaterThanOrEqual(0);
    }
    expect(t.waitMs).toBe(t.readbackMs);
    expect(t.totalMs).toBeGreaterThanOrEqual(t.computeMs);
    if (timestamps) expect(t.gpuKernelMs).toBeGreaterThanOrEqual(0);
    else expect(t.gpuKernelMs).toBeUndefined();
  });

  it('packs the expert above the score: 1024 experts, every string exact', async () => {
    const r = rng(3);
    const batch = packBytes(Array.from({ length: 4000 }, (_, i) => (i % 2 ? randomBytes(r, randomInt(r, 200)) : Buffer.from(randomText(r, 20)))));
    const boundaries = Array.from({ length: 1023 }, (_, k) => ((k + 1) * 0.7) / 1024);
    const moe = new SwitchedMoE({ backend: 'gpu', boundaries });
    routers.push(moe);
    const gpu = await moe.routeBatch(batch, { includeStats: true });
    expectIdenticalRouting(gpu, await moe.routeBatch(batch, { backend: 'cpu', includeStats: true }), '1024 experts');
    expect(Math.max(...gpu.experts)).toBeGreaterThan(300);
  });

  it('routes more batches at once than the ring has buffer sets, each exact, growing buffers mid-flight', async () => {
    // Small groups: every batch takes several sets in turn; sizes grow so sets are regrown while others are mapped.
    const moe = router({ stringsPerGroup: 300, chunkBytes: 100 });
    const r = rng(4);
    const batches = Array.from({ length: 3 * RING_SIZE + 1 }, (_, k) => {
      const parts = Array.from({ length: 200 + k * 150 }, (_, i) => (i % 97 === 5 ? randomBytes(r, 3000 + k * 500) : Buffer.from(randomText(r, 10))));
      return packBytes(parts);
    });
    const gpu = await Promise.all(batches.map((b, k) => moe.routeBatch(b, { includeStats: k % 2 === 0 })));
    for (let k = 0; k < batches.length; k++) {
      const cpu = await moe.routeBatch(batches[k], { backend: 'cpu', includeStats: k % 2 === 0 });
      expectIdenticalRouting(gpu[k], cpu, `batch ${k}`);
    }
  });

  it('accepts the next batch while the previous one is being read back', async () => {
    const ctx = await GpuContext.open();
    const router = new GpuRouter(ctx, resolveRouterConfig({}), defaultPlanLimits(ctx.limits));
    try {
      const log: string[] = [];
      const queue = ctx.device.queue;
      const submit = queue.submit.bind(queue);
      queue.submit = (buffers: Iterable<GPUCommandBuffer>): undefined => {
        log.push('submit');
        return submit(buffers);
      };
      const a = shortLines(5, 2000);
      const b = shortLines(6, 2000);
      await Promise.all([
        router.route(a.bytes, a.offsets, false).then(() => log.push('A read back')),
        router.route(b.bytes, b.offsets, false).then(() => log.push('B read back')),
      ]);
      // One statistics and one score submit per batch; B's come before A's results were mapped.
      expect(log).toEqual(['submit', 'submit', 'submit', 'submit', 'A read back', 'B read back']);
    } finally {
      router.destroy();
      ctx.destroy();
    }
  });

  it.each([true, false])('sums the pieces of a long string per workgroup or not (reducePieces %s), bit for bit', async (reducePieces) => {
    const ctx = await GpuContext.open();
    const config = resolveRouterConfig({});
    const r = rng(11);
    const parts: Uint8Array[] = [];
    for (let i = 0; i < 400; i++) {
      // Long strings of every size around a workgroup's worth of pieces, short ones, empty ones.
      parts.push(i % 10 === 0 ? randomBytes(r, randomInt(r, 64 * 64 * 3)) : i % 7 === 0 ? new Uint8Array(0) : Buffer.from(randomText(r, 6)));
    }
    parts.push(randomBytes(r, 3 * 1024 * 1024 + 1));
    const batch = packBytes(parts);
    const expected = computeStatistics(batch.bytes, batch.offsets);
    const scored = scoreStatistics(config, expected, parts.length);
    for (const l of [{ chunkBytes: 64 }, { chunkBytes: 5, windowBytes: 4096, stringsPerGroup: 37 }, {}]) {
      const router = new GpuRouter(ctx, config, { ...defaultPlanLimits(ctx.limits), ...l }, { reducePieces });
      try {
        const got = await router.route(batch.bytes, batch.offsets, true);
        expect(Buffer.from(got.stats!.buffer).equals(Buffer.from(expected.buffer)), JSON.stringify(l)).toBe(true);
        expect(Array.from(got.scoresQ16)).toEqual(Array.from(scored.scoresQ16));
        expect(Array.from(got.experts)).toEqual(Array.from(scored.experts));
        expect(Array.from(got.confidenceQ16)).toEqual(Array.from(scored.confidenceQ16));
      } finally {
        router.destroy();
      }
    }
    ctx.destroy();
  });

  it('routes bytes and offsets that live in a SharedArrayBuffer (Dawn takes no views of one), groups and pieces included', async () => {
    const r = rng(12);
    const plain = packBytes(Array.from({ length: 900 }, (_, i) => (i % 50 === 0 ? randomBytes(r, 6000) : Buffer.from(randomText(r, 8)))));
    const bytes = new Uint8Array(new SharedArrayBuffer(plain.bytes.length + 5), 5, plain.bytes.length);
    bytes.set(plain.bytes);
    const offsets = new Uint32Array(new SharedArrayBuffer(plain.offsets.byteLength + 8), 8, plain.offsets.length);
    offsets.set(plain.offsets);
    const moe = router({ stringsPerGroup: 100, windowBytes: 4096, chunkBytes: 256 });
    const gpu = await moe.routeBatch({ bytes, offsets }, { includeStats: true });
    expectIdenticalRouting(gpu, await moe.routeBatch(plain, { backend: 'cpu', includeStats: true }), 'SharedArrayBuffer');
  });

  it('fails one batch with a GpuError while the batches in flight beside it stay exact', async () => {
    // One group of 1.8 M statistics records needs a binding past maxStorageBufferBindingSize (128 MiB on the software adapters).
    const moe = router({ stringsPerGroup: 1 << 22, workgroupsPerDimension: 65535 });
    const n = Math.ceil((128 * 1024 * 1024) / (STATS_STRIDE * 4)) + 1024;
    const good = [shortLines(7, 3000), shortLines(8, 5000), shortLines(9, 100)];
    const results = await Promise.allSettled([
      moe.routeBatch(good[0]),
      moe.routeBatch({ bytes: new Uint8Array(0), offsets: new Uint32Array(n + 1) }),
      moe.routeBatch(good[1]),
      moe.routeBatch(good[2]),
    ]);
    const bad = results[1];
    if (bad.status === 'rejected') {
      expect(bad.reason).toBeInstanceOf(GpuError);
      expect((bad.reason as GpuError).code).toBe('GPU_VALIDATION');
    } // else: a GPU whose binding limit is larger simply routed it
    const fulfilled = [results[0], results[2], results[3]];
    for (let k = 0; k < good.length; k++) {
      const res = fulfilled[k];
      if (res.status !== 'fulfilled') throw res.reason;
      expectIdenticalRouting(res.value, await moe.routeBatch(good[k], { backend: 'cpu' }), `good batch ${k}`);
    }
    // And the router goes on routing.
    const after = shortLines(10, 1000);
    expectIdenticalRouting(await moe.routeBatch(after), await moe.routeBatch(after, { backend: 'cpu' }), 'after the failure');
  });
});
