/** Host side of shaders/statistics.wgsl. */
import { ComputeKernel } from './compute-kernel.js';
import type { GpuContext } from './gpu-context.js';
import { statisticsShaderSource } from './shader-source.js';

export interface StatisticsBindings {
  bytes: GPUBuffer;
  items: GPUBuffer;
  stats: GPUBuffer;
  params: GPUBuffer;
}

export class StatisticsKernel extends ComputeKernel {
  constructor(ctx: GpuContext) {
    super(ctx, 'statistics', statisticsShaderSource());
  }

  /** Records one dispatch over `itemCount` work items; params must already hold itemCount. */
  encode(encoder: GPUCommandEncoder, b: StatisticsBindings, itemCount: number, perDimension: number): void {
    this.encodeDispatch(encoder, [b.bytes, b.items, b.stats, b.params], itemCount, perDimension);
  }
}
