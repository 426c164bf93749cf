/**
 * Owns a WebGPU instance, adapter and device for as long as the device
 * lives. The instance and adapter must stay referenced from JavaScript while
 * the device works: if the garbage collector takes them, Dawn crashes the
 * process at random (see ../shared/webgpu-notes.md). Fields here hold them.
 */
import { readFileSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';
import { ConfigError, describeValue, DeviceLostError, GpuError, GpuUnavailableError } from '../../errors.js';
import { requestSurfacelessEgl, type EglSetup } from './egl-platform.js';
import { GPU_ADAPTER_ENV, GPU_BACKEND_ENV, GPU_BACKENDS, type GpuBackendName, type GpuOptions } from './gpu-options.js';

type CreateInstance = (options: string[]) => GPU;
let dawn: Promise<CreateInstance> | null = null;

/**
 * `webgpu` is an optional dependency (132 MB of prebuilt binaries for five
 * platforms): an install with --omit=optional, or on a platform it has no
 * binary for, lacks it. Say which case it is and what to do; the CPU works.
 */
function dawnLoadFailure(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const message = e instanceof Error ? e.message : String(err);
  const cpu = 'Route on the CPU (backend "cpu"; backend "auto" does so by itself)';
  if ((e.code === 'ERR_MODULE_NOT_FOUND' || e.code === 'MODULE_NOT_FOUND') && /['"]webgpu['"]/.test(message)) {
    return (
      "the optional package webgpu (Dawn's Node bindings) is not installed; an install with --omit=optional, " +
      `or one where it could not be installed, leaves it out. Install it (npm install webgpu) for the GPU path. ${cpu}.`
    );
  }
  if (e.code === 'MODULE_NOT_FOUND' && message.includes('dawn.node')) {
    return `the package webgpu has no prebuilt Dawn binary for this platform (${process.platform}-${process.arch}). ${cpu}.`;
  }
  return `could not load Dawn's Node bindings (npm package webgpu): ${message}. ${cpu}.`;
}

/**
 * Loads Dawn's Node bindings on first GPU use, not at import: a CPU-only user
 * never loads the native module, and a platform without a prebuilt one gets a
 * GpuUnavailableError ('auto' then routes on the CPU) instead of a failed import.
 */
function loadDawn(): Promise<CreateInstance> {
  dawn ??= import('webgpu').then(
    ({ create, globals }) => {
      // dawn.node's classes and enums (GPUBufferUsage, GPUMapMode, ...) as globals, as a browser has them.
      Object.assign(globalThis, globals);
      return create;
    },
    (err: unknown) => {
      dawn = null;
      throw new GpuUnavailableError(dawnLoadFailure(err), { cause: err, bindingsMissing: true });
    },
  );
  return dawn;
}

export { GPU_BACKENDS, GPU_BACKEND_ENV, GPU_ADAPTER_ENV, type GpuBackendName, type GpuOptions } from './gpu-options.js';

const HOW_TO_GET_AN_ADAPTER =
  'On Linux without a GPU, Mesa provides a software adapter: the OpenGL ES path needs libegl-mesa0 and libgl1-mesa-dri ' +
  '(apt-get install libegl-mesa0 libgl1-mesa-dri) and EGL_PLATFORM=surfaceless in the environment of the main thread; ' +
  'the Vulkan path needs mesa-vulkan-drivers and libvulkan1 from bookworm-backports (Mesa >= 24). ' +
  'With a GPU, install its vendor driver (Vulkan on Linux). Or route on the CPU: backend "cpu".';

/** Whether the Vulkan loader can be found; without it Dawn prints a warning for nothing. */
function vulkanLoaderPresent(): boolean {
  if (process.platform !== 'linux') return true;
  try {
    if (readFileSync('/etc/ld.so.cache').includes('libvulkan.so.1')) return true;
  } catch {
    // no cache: fall through to LD_LIBRARY_PATH
  }
  return (process.env.LD_LIBRARY_PATH ?? '').split(':').some((dir) => {
    try {
      readFileSync(`${dir}/libvulkan.so.1`, { flag: 'r' });
      return true;
    } catch {
      return false;
    }
  });
}

interface Attempt {
  label: string;
  createOptions: string[];
  adapterOptions: GPURequestAdapterOptions;
  /** Runs just before the instance is created; what it returns describes a failure. */
  prepare?: () => EglSetup;
}

function softwareGles(powerPreference?: GPUPowerPreference): Attempt {
  return {
    label: 'OpenGL ES (EGL surfaceless)',
    createOptions: ['backend=opengles'],
    adapterOptions: { featureLevel: 'compatibility', powerPreference },
    prepare: () => requestSurfacelessEgl('OpenGL ES'),
  };
}

function attemptsFor(backend: GpuBackendName, powerPreference?: GPUPowerPreference): Attempt[] {
  switch (backend) {
    case 'auto': {
      const out: Attempt[] = [];
      if (vulkanLoaderPresent()) out.push({ label: 'platform default', createOptions: [], adapterOptions: { powerPreference } });
      if (process.platform === 'linux') out.push(softwareGles(powerPreference));
      return out;
    }
    case 'opengles':
    case 'opengl': {
      const a = softwareGles(powerPreference);
      return [{ ...a, label: backend, createOptions: [`backend=${backend}`], prepare: () => requestSurfacelessEgl(backend) }];
    }
    default:
      return [{ label: backend, createOptions: [`backend=${backend}`], adapterOptions: { powerPreference } }];
  }
}

/**
 * The Dawn backend to use: the option, else MOE_ROUTER_GPU_BACKEND, else auto.
 * A bad value of either is a ConfigError (exit 2 in the CLI) naming where it
 * came from, like a bad MOE_ROUTER_BACKEND, and never a reason to fall back
 * to the CPU: it is a typo to fix, not a missing GPU. The variable is checked
 * even when the option overrides it.
 */
export function resolveGpuBackend(option: GpuBackendName | undefined): GpuBackendName {
  const fromEnv = process.env[GPU_BACKEND_ENV];
  const known = GPU_BACKENDS as readonly string[];
  if (fromEnv !== undefined && fromEnv !== '' && !known.includes(fromEnv)) {
    throw new ConfigError(`GPU backend must be one of ${GPU_BACKENDS.join(', ')}, got "${fromEnv}" (from ${GPU_BACKEND_ENV})`);
  }
  if (option !== undefined && !known.includes(option)) {
    throw new ConfigError(`GPU backend must be one of ${GPU_BACKENDS.join(', ')}, got ${typeof option === 'string' ? `"${option}"` : describeValue(option)} (option gpu.backend)`);
  }
  return option ?? (fromEnv === undefined || fromEnv === '' ? 'auto' : (fromEnv as GpuBackendName));
}

/** A software rasteriser (llvmpipe, lavapipe, SwiftShader): correct, but never faster than the fast CPU backend. */
function isSoftware(adapter: GPUAdapter): boolean {
  const info = adapter.info;
  const text = [info.vendor, info.architecture, info.device, info.description].join(' ');
  return adapter.info.isFallbackAdapter || /llvmpipe|lavapipe|swiftshader|software/i.test(text);
}

function describeAdapter(adapter: GPUAdapter, label: string): string {
  const info = adapter.info;
  const parts = [info.vendor, info.architecture, info.device, info.description].filter((p) => p && p.length > 0);
  const unique = [...new Set(parts)];
  const kind = isSoftware(adapter) ? 'software' : 'hardware';
  return `${unique.join(' ') || 'unknown adapter'} (${label}, ${kind}, ${label.startsWith('OpenGL') || label === 'opengles' || label === 'opengl' ? 'compatibility' : 'core'})`;
}

export class GpuContext {
  /** Held so the garbage collector cannot take them while the device works. */
  readonly instance: GPU;
  readonly adapter: GPUAdapter;
  readonly device: GPUDevice;
  readonly description: string;
  /** A software adapter ('auto' prefers the fast CPU backend over it). */
  readonly software: boolean;
  /** The device has timestamp queries: the router times its kernels on the GPU. */
  readonly timestamps: boolean;
  private lost: GPUDeviceLostInfo | null = null;
  private destroyed = false;

  private constructor(instance: GPU, adapter: GPUAdapter, device: GPUDevice, description: string) {
    this.instance = instance;
    this.adapter = adapter;
    this.device = device;
    this.description = description;
    this.software = isSoftware(adapter);
    this.timestamps = device.features.has('timestamp-query');
    void device.lost.then((info) => {
      this.lost = info;
    });
  }

  static async open(options: GpuOptions = {}): Promise<GpuContext> {
    const backend = resolveGpuBackend(options.backend);
    const create = await loadDawn();
    const tried: string[] = [];
    const problems: string[] = [];
    const adapterName = options.adapter ?? (process.env[GPU_ADAPTER_ENV] || undefined);
    for (const attempt of attemptsFor(backend, options.powerPreference)) {
      if (adapterName !== undefined) attempt.createOptions.push(`adapter=${adapterName}`);
      const setup = attempt.prepare?.();
      const failedLabel = setup?.failedLabel ?? attempt.label;
      if (setup?.problem) problems.push(setup.problem);
      let instance: GPU;
      let adapter: GPUAdapter | null;
      try {
        instance = create(attempt.createOptions);
        adapter = await instance.requestAdapter(attempt.adapterOptions);
      } catch (err) {
        tried.push(`${failedLabel}: ${(err as Error).message}`);
        continue;
      }
      if (!adapter) {
        tried.push(`${failedLabel}: no adapter`);
        continue;
      }
      const l = adapter.limits;
      // Only where the adapter has it (the GL ES llvmpipe adapter does not): asking for a missing feature fails.
      const timestamps = adapter.features.has('timestamp-query');
      const device = await adapter.requestDevice({
        requiredFeatures: timestamps ? ['timestamp-query'] : [],
        requiredLimits: {
          maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
          maxBufferSize: l.maxBufferSize,
          maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
        },
      });
      return new GpuContext(instance, adapter, device, describeAdapter(adapter, attempt.label));
    }
    // A known cause (a worker thread's EGL_PLATFORM) comes before the general advice.
    const known = problems.length > 0 ? `${[...new Set(problems)].join(' ')} ` : '';
    throw new GpuUnavailableError(
      `no WebGPU adapter found (backend ${backend}; tried ${tried.join('; ') || 'nothing'}). ${known}${HOW_TO_GET_AN_ADAPTER}`,
    );
  }

  get limits(): GPUSupportedLimits {
    return this.device.limits;
  }

  /** Throws DeviceLostError if the device is gone. */
  assertAlive(): void {
    if (this.lost) throw new DeviceLostError(this.lost.reason, this.lost.message);
    if (this.destroyed) throw new DeviceLostError('destroyed', 'the router was disposed');
  }

  /**
   * Runs `work` inside validation and out-of-memory error scopes and throws
   * what they caught: Dawn's errors become exceptions, never log lines.
   */
  async checked<T>(operation: string, work: () => T | Promise<T>): Promise<T> {
    this.assertAlive();
    this.device.pushErrorScope('validation');
    this.device.pushErrorScope('out-of-memory');
    let result: T;
    try {
      result = await work();
    } catch (err) {
      await this.device.popErrorScope().catch(() => null);
      await this.device.popErrorScope().catch(() => null);
      throw await this.translate(err);
    }
    const oom = await this.device.popErrorScope();
    const validation = await this.device.popErrorScope();
    if (oom) throw new GpuError('GPU_OUT_OF_MEMORY', operation, oom.message);
    if (validation) throw new GpuError('GPU_VALIDATION', operation, validation.message);
    return result;
  }

  /**
   * Runs synchronous `work` inside validation and out-of-memory error scopes,
   * pushed and popped in the same synchronous stretch: with several batches in
   * flight, an await between push and pop would let another batch's calls land
   * in this batch's scopes. The promise rejects with what the scopes caught.
   */
  scoped<T>(operation: string, work: () => T): Promise<T> {
    this.assertAlive();
    this.device.pushErrorScope('validation');
    this.device.pushErrorScope('out-of-memory');
    let result: T;
    try {
      result = work();
    } catch (err) {
      const popped = Promise.allSettled([this.device.popErrorScope(), this.device.popErrorScope()]);
      return popped.then(async () => {
        throw await this.translate(err);
      });
    }
    const oom = this.device.popErrorScope();
    const validation = this.device.popErrorScope();
    return Promise.all([oom, validation]).then(
      ([o, v]) => {
        if (o) throw new GpuError('GPU_OUT_OF_MEMORY', operation, o.message);
        if (v) throw new GpuError('GPU_VALIDATION', operation, v.message);
        return result;
      },
      async (err: unknown) => {
        throw await this.translate(err);
      },
    );
  }

  /**
   * A failed operation on a lost device surfaces as DeviceLostError. The lost
   * promise can settle just after the operation fails, so wait briefly for it.
   */
  async translate(err: unknown): Promise<unknown> {
    const gpuOperationFailed = err instanceof Error && (err.name === 'AbortError' || err.name === 'OperationError');
    if (!this.lost && gpuOperationFailed) {
      await Promise.race([this.device.lost, new Promise((resolve) => setTimeout(resolve, 50))]);
    }
    if (this.lost) return new DeviceLostError(this.lost.reason, this.lost.message);
    return err;
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.device.destroy();
  }
}
