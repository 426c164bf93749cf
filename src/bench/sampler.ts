/**
 * How one benchmark point is timed. The suite hands a task (route one batch)
 * to a Sampler; `moe-router bench` uses the plain loop below, `npm run bench`
 * plugs in tinybench (a dev dependency, so the shipped CLI does not need it).
 */
export interface SampleLimits {
  /** Keep sampling until this much time has passed... */
  budgetMs: number;
  /** ...and at least this many samples were taken. */
  minSamples: number;
}

export interface Timing {
  samples: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  /** Sum of the sample times. */
  totalMs: number;
}

export type Sampler = (name: string, task: () => Promise<void>, limits: SampleLimits) => Promise<Timing>;

/** The q-quantile (0..1) of sorted values, linearly interpolated. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

export function timingOf(samplesMs: readonly number[]): Timing {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const totalMs = sorted.reduce((a, b) => a + b, 0);
  return {
    samples: sorted.length,
    meanMs: sorted.length ? totalMs / sorted.length : 0,
    p50Ms: quantile(sorted, 0.5),
    p99Ms: quantile(sorted, 0.99),
    totalMs,
  };
}

export const loopSampler: Sampler = async (_name, task, limits) => {
  const samples: number[] = [];
  const start = performance.now();
  while (samples.length < limits.minSamples || performance.now() - start < limits.budgetMs) {
    const t0 = performance.now();
    await task();
    samples.push(performance.now() - t0);
  }
  return timingOf(samples);
};
