/**
 * GPU tests run on a real WebGPU adapter: a hardware GPU where there is one,
 * the Mesa software adapter otherwise (CI). Outside CI a machine without any
 * adapter skips them with a visible message; in CI they run and fail, because
 * a GPU test that silently skips proves nothing.
 */
import { describe } from 'vitest';
import { GpuContext } from '../../src/backends/gpu/gpu-context.js';

async function probe(): Promise<{ available: boolean; detail: string }> {
  try {
    const ctx = await GpuContext.open();
    const detail = ctx.description;
    ctx.destroy();
    return { available: true, detail };
  } catch (err) {
    return { available: false, detail: (err as Error).message };
  }
}

export const gpuProbe = await probe();
const inCi = Boolean(process.env.CI);
if (!gpuProbe.available && !inCi) {
  console.warn(`\n*** SKIPPING GPU tests: no WebGPU adapter (${gpuProbe.detail}) ***\n`);
}

/** describe() for GPU tests: runs wherever an adapter exists, and always in CI. */
export const describeGpu = gpuProbe.available || inCi ? describe : describe.skip;
