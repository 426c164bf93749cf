/** Host side of shaders/score.wgsl; one pipeline per router configuration (its tables are constants). */
import type { RouterConfig } from '../../model/router-config.js';
import { ComputeKernel } from './compute-kernel.js';
import type { GpuContext } from './gpu-context.js';
import { scoreShaderSource } from './shader-source.js';

export interface ScoreBindings {
  stats: GPUBuffer;
  results: GPUBuffer;
  params: GPUBuffer;
}

export { RESULT_WORDS } from './result-layout.js';

export class ScoreKernel extends ComputeKernel {
  constructor(ctx: GpuContext, config: RouterConfig) {
    super(ctx, 'score', scoreShaderSource(config));
  }

  /** Records one dispatch over `count` strings; params must already hold count. */
  encode(
    encoder: GPUCommandEncoder,
    b: ScoreBindings,
    count: number,
    perDimension: number,
    timestampWrites?: GPUComputePassTimestampWrites,
  ): void {
    this.encodeDispatch(encoder, [b.stats, b.results, b.params], count, perDimension, timestampWrites);
  }
}
