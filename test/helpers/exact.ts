/** Bit-for-bit comparison of two routings, reporting the first difference. */
import { expect } from 'vitest';
import { STATS_STRIDE } from '../../src/model/complexity-model.js';
import type { BatchRouting } from '../../src/index.js';

function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

export function expectIdenticalRouting(gpu: BatchRouting, cpu: BatchRouting, label = ''): void {
  expect(gpu.backend, label).toBe('gpu');
  expect(cpu.backend, label).toBe('cpu');
  expect(gpu.count, label).toBe(cpu.count);
  if (gpu.stats && cpu.stats) {
    const d = firstDifference(gpu.stats, cpu.stats);
    if (d >= 0) {
      const s = Math.floor(d / STATS_STRIDE);
      const rec = (x: Uint32Array): number[] => Array.from(x.subarray(s * STATS_STRIDE, (s + 1) * STATS_STRIDE));
      expect.fail(`${label}: statistics of string ${s} differ (word ${d % STATS_STRIDE}): gpu ${rec(gpu.stats)} cpu ${rec(cpu.stats)}`);
    }
  }
  for (const key of ['scoresQ16', 'experts', 'confidenceQ16'] as const) {
    const d = firstDifference(gpu[key], cpu[key]);
    if (d >= 0) expect.fail(`${label}: ${key}[${d}] differs: gpu ${gpu[key][d]} cpu ${cpu[key][d]}`);
  }
  // The float views are derived from the fixed-point values on both sides.
  expect(firstDifference(gpu.scores, cpu.scores), label).toBe(-1);
  expect(firstDifference(gpu.confidence, cpu.confidence), label).toBe(-1);
}
