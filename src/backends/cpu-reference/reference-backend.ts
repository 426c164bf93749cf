/** The readable reference as a RoutingBackend: `cpu-reference`, the oracle of every test. */
import { performance } from 'node:perf_hooks';
import type { PackedBatch } from '../../model/packed-batch.js';
import type { RouterConfig } from '../../model/router-config.js';
import type { BackendName, RouteResult, RoutingBackend } from '../backend.js';
import { scoreStatistics } from './score.js';
import { computeStatistics } from './statistics.js';

export class CpuReferenceBackend implements RoutingBackend {
  readonly name: BackendName = 'cpu-reference';
  readonly description = 'readable reference (statistics, then score), in JavaScript';

  async route(batch: PackedBatch, config: RouterConfig): Promise<RouteResult> {
    const count = batch.offsets.length - 1;
    const t0 = performance.now();
    const stats = computeStatistics(batch.bytes, batch.offsets);
    const t1 = performance.now();
    const r = scoreStatistics(config, stats, count);
    const t2 = performance.now();
    return { count, ...r, timings: { statistics: t1 - t0, score: t2 - t1 } };
  }

  async dispose(): Promise<void> {}
}
