/**
 * What every kernel's host side shares: one compute pipeline built from
 * generated WGSL, bind groups kept for the buffer sets in use (the router's
 * ring binds a few sets in turn, so one cached group would be rebuilt every
 * batch), and a dispatch of one invocation per element, folded into 2D past
 * the device's per-dimension workgroup limit (the shaders rebuild the flat index).
 */
import { workgroupGrid } from './batch-plan.js';
import type { GpuContext } from './gpu-context.js';
import { WORKGROUP_SIZE } from './shader-source.js';

/** Bind groups kept; more than the ring's buffer sets, so growing one set does not evict another's. */
const BIND_GROUP_CACHE = 8;

export abstract class ComputeKernel {
  private readonly pipeline: GPUComputePipeline;
  /** Most recently used first. */
  private bindGroups: { buffers: readonly GPUBuffer[]; group: GPUBindGroup }[] = [];

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
    timestampWrites?: GPUComputePassTimestampWrites,
  ): void {
    if (invocations === 0) return;
    const pass = encoder.beginComputePass(timestampWrites ? { label: this.label, timestampWrites } : { label: this.label });
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, this.bindGroupFor(buffers));
    const [x, y] = workgroupGrid(Math.ceil(invocations / WORKGROUP_SIZE), perDimension);
    pass.dispatchWorkgroups(x, y);
    pass.end();
  }

  private bindGroupFor(buffers: readonly GPUBuffer[]): GPUBindGroup {
    const at = this.bindGroups.findIndex((e) => e.buffers.length === buffers.length && e.buffers.every((b, i) => b === buffers[i]));
    if (at >= 0) {
      const [hit] = this.bindGroups.splice(at, 1);
      this.bindGroups.unshift(hit);
      return hit.group;
    }
    const group = this.ctx.device.createBindGroup({
      label: this.label,
      layout: this.pipeline.getBindGroupLayout(0),
      entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    this.bindGroups.unshift({ buffers: [...buffers], group });
    this.bindGroups.length = Math.min(this.bindGroups.length, BIND_GROUP_CACHE);
    return group;
  }
}
