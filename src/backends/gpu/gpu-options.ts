/**
 * The GPU options of the public API. Kept apart from gpu-context.ts on
 * purpose: this module (and so the package's public .d.ts) names no WebGPU
 * global type, so a consumer type-checks without @webgpu/types and without
 * skipLibCheck, and whether the optional `webgpu` package is installed does
 * not change the consumer's types.
 */

/** Dawn backends a user may name (option `gpu.backend` or MOE_ROUTER_GPU_BACKEND). */
export const GPU_BACKENDS = ['auto', 'vulkan', 'opengles', 'opengl', 'metal', 'd3d12', 'd3d11'] as const;
export type GpuBackendName = (typeof GPU_BACKENDS)[number];

/** WebGPU's GPUPowerPreference, spelled out so the public types need no WebGPU globals. */
export type GpuPowerPreference = 'low-power' | 'high-performance';

export interface GpuOptions {
  /** Dawn backend to use; 'auto' (default) tries the platform default, then OpenGL ES (Mesa software on Linux). */
  backend?: GpuBackendName;
  powerPreference?: GpuPowerPreference;
  /**
   * Pick the adapter whose name starts with this (Dawn's adapter=NAME), e.g.
   * on a machine with several GPUs; a name that matches none gives an error
   * listing the adapters that exist. Env MOE_ROUTER_GPU_ADAPTER.
   */
  adapter?: string;
}

export const GPU_BACKEND_ENV = 'MOE_ROUTER_GPU_BACKEND';
export const GPU_ADAPTER_ENV = 'MOE_ROUTER_GPU_ADAPTER';
