/**
 * What every kernel's host side shares: one compute pipeline built from
 * generated WGSL, a bind group rebuilt only when its buffers change, and a
 * dispatch of one invocation per element, folded into 2D past the device's
 * per-dimension workgroup limit (the shaders rebuild the flat index).
 */
import { workgroupGrid } from './batch-plan.js';
import type { GpuContext } from './gpu-context.js';
import { WORKGROUP_SIZE } from './shader-source.js';

export abstract class ComputeKernel {
  private readonly pipeline: GPUComputePipeline;
  private bindGroup: GPUBindGroup | null = null;
  private bound: readonly GPUBuffer[] = [];

  protected constructor(
    private readonly ctx: GpuContext,
    private readonly label: string,
    code: string,
  ) {
    const module = ctx.device.createShaderModule({ label: `${label}.wgsl`, code });
    this.pipeline = ctx.device.createComputePipeline({ label, layout: 'auto', compute: { module, entryPoint: 'main' } });
  }

  /** Records a dispatch over `invocations` elements; `buffers` in binding order. */
  protected encodeDispatch(
    encoder: GPUCommandEncoder,
    buffers: readonly GPUBuffer[],
    invocations: number,
    perDimension: number,
  ): void {
    if (invocations === 0) return;
    const pass = encoder.beginComputePass({ label: this.label });
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, this.bindGroupFor(buffers));
    const [x, y] = workgroupGrid(Math.ceil(invocations / WORKGROUP_SIZE), perDimension);
    pass.dispatchWorkgroups(x, y);
    pass.end();
  }

  private bindGroupFor(buffers: readonly GPUBuffer[]): GPUBindGroup {
    const same = this.bindGroup && buffers.length === this.bound.length && buffers.every((b, i) => b === this.bound[i]);
    if (!same || !this.bindGroup) {
      this.bindGroup = this.ctx.device.createBindGroup({
        label: this.label,
        layout: this.pipeline.getBindGroupLayout(0),
        entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
      });
      this.bound = [...buffers];
    }
    return this.bindGroup;
  }
}
