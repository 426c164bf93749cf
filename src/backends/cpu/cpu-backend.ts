/**
 * The fast CPU backend, `cpu`: the fused WebAssembly kernel, or its plain
 * JavaScript twin where WebAssembly is unavailable or when
 * MOE_ROUTER_CPU_KERNEL=js forces it (MOE_ROUTER_CPU_KERNEL=wasm forces the
 * WebAssembly kernel and fails where it cannot load).
 */
import { performance } from 'node:perf_hooks';
import { ConfigError } from '../../errors.js';
import type { PackedBatch } from '../../model/packed-batch.js';
import type { RouterConfig } from '../../model/router-config.js';
import type { BackendName, RouteResult, RoutingBackend } from '../backend.js';
import { JsKernel } from './js-kernel.js';
import type { FastKernel, RouteOutput } from './kernel-tables.js';
import { WasmKernel, wasmAvailable, type WasmKernelOptions } from './wasm-kernel.js';

export type { FastKernel, RouteOutput } from './kernel-tables.js';

export type CpuKernelKind = 'wasm' | 'js';
export const CPU_KERNEL_ENV = 'MOE_ROUTER_CPU_KERNEL';

export interface CpuKernelOptions extends WasmKernelOptions {
  /** Which kernel; default: MOE_ROUTER_CPU_KERNEL, else wasm where available, else js. */
  kernel?: CpuKernelKind;
}

function chooseKernel(requested: CpuKernelKind | undefined): CpuKernelKind {
  const fromEnv = process.env[CPU_KERNEL_ENV];
  const wanted = requested ?? (fromEnv === undefined || fromEnv === '' ? undefined : fromEnv);
  if (wanted === undefined) return wasmAvailable() ? 'wasm' : 'js';
  if (wanted !== 'wasm' && wanted !== 'js') {
    throw new ConfigError(`${CPU_KERNEL_ENV} must be "wasm" or "js", got "${wanted}"`);
  }
  if (wanted === 'wasm' && !wasmAvailable()) throw new ConfigError('the WebAssembly CPU kernel was requested but this runtime has no WebAssembly');
  return wanted;
}

/**
 * A kernel of the requested (or best available) kind. Unless the WebAssembly
 * kernel was asked for by name, a runtime that cannot compile it (no SIMD,
 * say) gets the JavaScript kernel.
 */
export function createKernel(options: CpuKernelOptions = {}): FastKernel {
  const kind = chooseKernel(options.kernel);
  if (kind === 'js') return new JsKernel();
  const explicit = options.kernel === 'wasm' || process.env[CPU_KERNEL_ENV] === 'wasm';
  try {
    return new WasmKernel(options);
  } catch (err) {
    if (explicit) throw err;
    return new JsKernel();
  }
}

let shared: FastKernel | null = null;

/**
 * Routes records 0..count-1 of a packed batch (record i is
 * bytes[offsets[i], offsets[i + 1])) into caller-owned arrays, synchronously,
 * with this thread's default kernel. For workers that reuse their memory.
 */
export function routeInto(bytes: Uint8Array, offsets: Uint32Array, count: number, config: RouterConfig, out: RouteOutput): void {
  shared ??= createKernel();
  shared.routeInto(bytes, offsets, count, config, out);
}

export class CpuBackend implements RoutingBackend {
  readonly name: BackendName = 'cpu';
  readonly description: string;
  private readonly kernel: FastKernel;

  constructor(options: CpuKernelOptions = {}) {
    this.kernel = createKernel(options);
    this.description =
      this.kernel.kind === 'wasm'
        ? 'CPU: fused statistics and score kernel in WebAssembly'
        : 'CPU: fused statistics and score kernel in JavaScript (no WebAssembly)';
  }

  get kernelKind(): CpuKernelKind {
    return this.kernel.kind;
  }

  /** Synchronous routing into caller-owned arrays (SwitchedMoE and the workers reuse them). */
  routeInto(bytes: Uint8Array, offsets: Uint32Array, count: number, config: RouterConfig, out: RouteOutput): void {
    this.kernel.routeInto(bytes, offsets, count, config, out);
  }

  async route(batch: PackedBatch, config: RouterConfig): Promise<RouteResult> {
    const count = batch.offsets.length - 1;
    const out = {
      experts: new Uint32Array(count),
      scoresQ16: new Uint32Array(count),
      confidenceQ16: new Uint32Array(count),
    };
    const t0 = performance.now();
    this.kernel.routeInto(batch.bytes, batch.offsets, count, config, out);
    return { count, ...out, timings: { kernel: performance.now() - t0 } };
  }

  async dispose(): Promise<void> {}
}
