/** Host side of shaders/statistics.wgsl. */
import { ComputeKernel } from './compute-kernel.js';
import type { GpuContext } from './gpu-context.js';
import { statisticsShaderSource, type StatisticsShaderOptions } from './shader-source.js';

export interface StatisticsBindings {
  bytes: GPUBuffer;
  offsets: GPUBuffer;
  pieces: GPUBuffer;
  stats: GPUBuffer;
  params: GPUBuffer;
}

/** u32 in the statistics params uniform (struct Params in statistics.wgsl). */
export const STATISTICS_PARAM_WORDS = 8;

export class StatisticsKernel extends ComputeKernel {
  constructor(ctx: GpuContext, options: StatisticsShaderOptions) {
    super(ctx, 'statistics', statisticsShaderSource(options));
  }

  /** Records one dispatch over a window's heads and pieces; params must already describe the window. */
  encode(
    encoder: GPUCommandEncoder,
    b: StatisticsBindings,
    invocations: number,
    perDimension: number,
    timestampWrites?: GPUComputePassTimestampWrites,
  ): void {
    this.encodeDispatch(encoder, [b.bytes, b.offsets, b.pieces, b.stats, b.params], invocations, perDimension, timestampWrites);
  }
}
