/**
 * SwitchedMoE: the public router. Single strings are scored on the CPU
 * reference (synchronously); batches go to the GPU or the CPU. Both give the
 * same bits, so the backend is a speed choice, never a correctness one.
 */
import { computeStatistics } from '../backends/cpu-reference/statistics.js';
import { scoreStatistics } from '../backends/cpu-reference/score.js';
import { DeviceLostError, DisposedError, GpuUnavailableError, ConfigError, checkOptionsObject, describeValue } from '../errors.js';
import {
  FEATURE_NAMES,
  STAT,
  STATS_STRIDE,
  VALUE,
  VALUE_COUNT,
  deriveValues,
  featureQ16,
  type CharacterStatistics,
  type FeatureName,
} from '../model/complexity-model.js';
import { ONE, toFloat } from '../model/fixed-point.js';
import { contributionOf } from '../model/record-cause.js';
import { resolveRouterConfig, type RouterConfig, type RouterOptions } from '../model/router-config.js';
import { defaultPlanLimits, validatePlanLimits, type PlanLimits } from '../backends/gpu/batch-plan.js';
import { GpuContext, resolveGpuBackend } from '../backends/gpu/gpu-context.js';
import { CpuBackend } from '../backends/cpu/cpu-backend.js';
import { GPU_ADAPTER_ENV, GPU_BACKEND_ENV, type GpuOptions } from '../backends/gpu/gpu-options.js';
import { gpuDeviceNodes } from '../backends/gpu/gpu-devices.js';
import { GpuRouter } from '../backends/gpu/route-gpu.js';
import { batchSize, packStrings, validatePackedBatch, type PackedBatch } from '../model/packed-batch.js';

/**
 * 'auto': a hardware GPU when there is one, else the fast CPU backend (a
 * software adapter such as llvmpipe is slower than the CPU kernel);
 * 'gpu': the GPU, a software adapter included; 'cpu': the fast CPU kernel;
 * 'cpu-reference': the readable reference (the oracle of the tests).
 */
export type Backend = 'auto' | 'gpu' | 'cpu' | 'cpu-reference';
export const BACKENDS: readonly Backend[] = ['auto', 'gpu', 'cpu', 'cpu-reference'];
export const BACKEND_ENV = 'MOE_ROUTER_BACKEND';
/** Test and tuning hook: let 'auto' take a software adapter (it normally prefers the fast CPU backend). */
export const AUTO_SOFTWARE_GPU_ENV = 'MOE_ROUTER_AUTO_SOFTWARE_GPU';

/** What 'auto' (or an explicit choice) resolved to, and why, in words for the summary. */
export interface BackendChoice {
  backend: 'gpu' | 'cpu' | 'cpu-reference';
  reason: string;
}

export interface SwitchedMoEOptions extends RouterOptions {
  /** Default backend of routeBatch: 'auto' (GPU if an adapter exists, else CPU with one warning), 'gpu' or 'cpu'. Env MOE_ROUTER_BACKEND. */
  backend?: Backend;
  /** Adapter choice, and (for tests and tuning) the batch-splitting limits. */
  gpu?: GpuOptions & { planLimits?: Partial<PlanLimits> };
  /** Where warnings go (GPU fallback, device loss). Default: process.emitWarning. */
  onWarning?: (message: string) => void;
}

export interface RouteBatchOptions {
  backend?: Backend;
  /** Also return the per-string statistics records (STATS_STRIDE u32 each). */
  includeStats?: boolean;
}

export interface BatchTimings {
  /** Encoding strings to UTF-8 (0 for packed input). */
  packMs: number;
  /** Computing statistics and scores (on the GPU: everything from prepareMs to readbackMs, and waits). */
  computeMs: number;
  /** GPU only: host preparation (planning byte windows, growing buffers, result arrays). */
  prepareMs?: number;
  /** GPU only: queueing the uploads (raw bytes, 4-byte offsets, params). */
  uploadMs?: number;
  /** GPU only: encoding and submitting the kernels (on Dawn's GL ES backend, running them: it dispatches inside submit). */
  kernelMs?: number;
  /** GPU only: the kernels' time on the GPU from timestamp queries; absent where the adapter has none (GL ES llvmpipe). */
  gpuKernelMs?: number;
  /** GPU only: from the last submit until the results were mapped and copied out. */
  readbackMs?: number;
  /** GPU only: the same as readbackMs (its older name). */
  waitMs?: number;
  /** GPU only: waiting for a free buffer set while earlier batches were still in flight. */
  ringWaitMs?: number;
  /** GPU only: bytes queued for upload (text, offsets, params) and bytes read back. */
  uploadBytes?: number;
  readbackBytes?: number;
  totalMs: number;
}

export interface BatchRouting {
  count: number;
  experts: Uint32Array;
  /** Complexity in [0, 1]: exactly scoresQ16 / 65536. */
  scores: Float32Array;
  confidence: Float32Array;
  scoresQ16: Uint32Array;
  confidenceQ16: Uint32Array;
  /** With includeStats: STATS_STRIDE u32 per string, layout STAT in src/model/complexity-model.ts. */
  stats?: Uint32Array;
  backend: 'gpu' | 'cpu' | 'cpu-reference';
  /** Human-readable adapter (or "CPU reference (JavaScript)"). */
  adapter: string;
  /** True when 'auto' routed this batch on the CPU because the GPU device had been lost. */
  fallback?: boolean;
  timings: BatchTimings;
}

export interface FeatureContribution {
  name: FeatureName;
  describe: string;
  /** Feature value in [0, 1]. */
  value: number;
  /** Normalised weight (weights sum to 1). */
  weight: number;
  /** weight x value: this feature's share of the score. */
  contribution: number;
  cap?: number;
}

export interface Explanation {
  text: string;
  statistics: CharacterStatistics;
  features: FeatureContribution[];
  complexity: number;
  expert: number;
  confidence: number;
  expertDescription: string;
}

export interface RouterMetrics {
  numExperts: number;
  complexityThreshold: number;
  boundaries: number[];
  expertDescriptions: Record<number, string>;
  features: { name: FeatureName; weight: number; cap?: number; describe: string }[];
  routed: { total: number; perExpert: number[]; meanComplexity: number; meanConfidence: number };
  lastBackend: 'gpu' | 'cpu' | 'cpu-reference' | null;
  adapter: string | null;
}

export const CPU_ADAPTER = 'CPU reference (JavaScript)';

/** The backend option, else MOE_ROUTER_BACKEND, else auto; a bad value of either (the variable even when overridden) is a ConfigError. */
function resolveBackend(value: Backend | undefined, from: string): Backend {
  const env = process.env[BACKEND_ENV];
  const known = BACKENDS as readonly string[];
  if (env !== undefined && env !== '' && !known.includes(env)) {
    throw new ConfigError(`backend must be one of ${BACKENDS.join(', ')}, got "${env}" (from ${BACKEND_ENV})`);
  }
  if (value !== undefined && !known.includes(value)) {
    throw new ConfigError(`backend must be one of ${BACKENDS.join(', ')}, got ${typeof value === 'string' ? `"${value}"` : describeValue(value)} (${from})`);
  }
  return value ?? (env === undefined || env === '' ? 'auto' : (env as Backend));
}

export function namedStatistics(stats: Uint32Array, base: number): CharacterStatistics {
  const values = new Uint32Array(VALUE_COUNT);
  deriveValues(stats, base, values);
  return {
    bytes: stats[base + STAT.BYTES],
    chars: stats[base + STAT.CHARS],
    whitespace: stats[base + STAT.WHITESPACE],
    upper: stats[base + STAT.UPPER],
    lower: stats[base + STAT.LOWER],
    digits: stats[base + STAT.DIGIT],
    punctuation: stats[base + STAT.PUNCT],
    control: stats[base + STAT.CONTROL],
    nonAscii: stats[base + STAT.NON_ASCII],
    tokens: stats[base + STAT.TOKENS],
    transitions: stats[base + STAT.TRANSITIONS],
    distinctBytes: values[VALUE.DISTINCT_BYTES],
  };
}

export class SwitchedMoE {
  readonly config: RouterConfig;
  private readonly backend: Backend;
  private readonly gpuOptions: SwitchedMoEOptions['gpu'];
  private readonly warn: (message: string) => void;
  private gpu: Promise<{ ctx: GpuContext; router: GpuRouter }> | null = null;
  private gpuFailed: Error | null = null;
  private disposed = false;
  private readonly tally = { total: 0, perExpert: [] as number[], complexitySum: 0, confidenceSum: 0 };
  private lastBackend: 'gpu' | 'cpu' | 'cpu-reference' | null = null;
  private autoChoice: Promise<BackendChoice> | null = null;
  private fastCpu: CpuBackend | null = null;
  private readonly autoTakesSoftware = Boolean(process.env[AUTO_SOFTWARE_GPU_ENV]);
  private adapter: string | null = null;

  constructor(options: SwitchedMoEOptions = {}) {
    checkOptionsObject(options, 'SwitchedMoE');
    this.config = resolveRouterConfig(options);
    this.backend = resolveBackend(options.backend, 'option backend');
    // checked now, like the backend: a typo must not wait for the first GPU batch (nor turn into a CPU fallback)
    resolveGpuBackend(options.gpu?.backend);
    this.gpuOptions = options.gpu;
    validatePlanLimits(options.gpu?.planLimits ?? {});
    this.warn = options.onWarning ?? ((m) => process.emitWarning(m, 'MoeRouterWarning'));
    this.tally.perExpert = new Array<number>(this.config.numExperts).fill(0);
  }

  get numExperts(): number {
    return this.config.numExperts;
  }

  /** The default backend of routeBatch, as configured ('auto', 'gpu', 'cpu', ...). */
  get backendName(): Backend {
    return this.backend;
  }

  // ---- single strings (CPU reference, synchronous) ------------------------

  private routeOne(text: string): { stats: Uint32Array; score: number; expert: number; confidence: number } {
    const { bytes, offsets } = packStrings([text]);
    const stats = computeStatistics(bytes, offsets);
    const r = scoreStatistics(this.config, stats, 1);
    return { stats, score: r.scoresQ16[0], expert: r.experts[0], confidence: r.confidenceQ16[0] };
  }

  /** Complexity score in [0, 1]. */
  computeComplexity(text: string): number {
    return toFloat(this.routeOne(text).score);
  }

  /** The expert index (0 .. numExperts - 1) this text is routed to. */
  route(text: string): number {
    this.assertUsable();
    const r = this.routeOne(text);
    this.record(r.expert, r.score, r.confidence);
    return r.expert;
  }

  /** Confidence of the routing decision in [0, 1]: 0 on a boundary, 1 farthest from one. */
  confidence(text: string): number {
    return toFloat(this.routeOne(text).confidence);
  }

  /** The statistics and each feature's contribution that produced the score. */
  explain(text: string): Explanation {
    const r = this.routeOne(text);
    const values = new Uint32Array(VALUE_COUNT);
    deriveValues(r.stats, 0, values);
    const { features, weightsInt, weightSum } = this.config.model;
    return {
      text,
      statistics: namedStatistics(r.stats, 0),
      features: features.map((f, i) => {
        const q = featureQ16(f, values);
        const value = toFloat(q);
        const weight = weightsInt[i] / weightSum;
        return {
          name: f.name,
          describe: f.describe,
          value,
          weight,
          // the exact w x f rounded once, so contributions rank as their integers do (record-cause.ts)
          contribution: contributionOf(this.config.model, i, q),
          ...(f.kind === 0 ? {} : { cap: f.cap }),
        };
      }),
      complexity: toFloat(r.score),
      expert: r.expert,
      confidence: toFloat(r.confidence),
      expertDescription: this.config.expertDescriptions[r.expert],
    };
  }

  getMetrics(): RouterMetrics {
    const { features, weightsInt, weightSum } = this.config.model;
    const t = this.tally;
    return {
      numExperts: this.config.numExperts,
      complexityThreshold: this.config.complexityThreshold,
      boundaries: [...this.config.boundaries],
      expertDescriptions: { ...this.config.expertDescriptions },
      features: features.map((f, i) => ({
        name: f.name,
        weight: weightsInt[i] / weightSum,
        ...(f.kind === 0 ? {} : { cap: f.cap }),
        describe: f.describe,
      })),
      routed: {
        total: t.total,
        perExpert: [...t.perExpert],
        meanComplexity: t.total ? t.complexitySum / t.total / ONE : 0,
        meanConfidence: t.total ? t.confidenceSum / t.total / ONE : 0,
      },
      lastBackend: this.lastBackend,
      adapter: this.adapter,
    };
  }

  /** record() for every result of a batch, in one loop over locals (a call per record cost about 10 ns). */
  private recordBatch(r: { count: number; experts: Uint32Array; scoresQ16: Uint32Array; confidenceQ16: Uint32Array }): void {
    const { experts, scoresQ16, confidenceQ16 } = r;
    const perExpert = this.tally.perExpert;
    let complexity = 0;
    let confidence = 0;
    for (let i = 0; i < r.count; i++) {
      perExpert[experts[i]]++;
      complexity += scoresQ16[i];
      confidence += confidenceQ16[i];
    }
    this.tally.total += r.count;
    this.tally.complexitySum += complexity;
    this.tally.confidenceSum += confidence;
  }

  private record(expert: number, scoreQ16: number, confidenceQ16: number): void {
    this.tally.total++;
    this.tally.perExpert[expert]++;
    this.tally.complexitySum += scoreQ16;
    this.tally.confidenceSum += confidenceQ16;
  }

  // ---- batches ------------------------------------------------------------

  /** Routes many strings, or a packed batch (UTF-8 bytes + n + 1 offsets), on the GPU or the CPU. */
  async routeBatch(input: readonly string[] | PackedBatch, options: RouteBatchOptions = {}): Promise<BatchRouting> {
    this.assertUsable();
    checkOptionsObject(options, 'routeBatch');
    const backend = options.backend === undefined ? this.backend : resolveBackend(options.backend, 'routeBatch option backend');
    const t0 = performance.now();
    let batch: PackedBatch;
    if (Array.isArray(input)) {
      batch = packStrings(input as readonly string[]);
    } else if (input !== null && typeof input === 'object' && ('bytes' in input || 'offsets' in input)) {
      batch = input as PackedBatch;
      validatePackedBatch(batch);
    } else {
      // checked before any backend is chosen, so every backend gives the same error
      throw new ConfigError(`routeBatch takes an array of strings or a packed batch { bytes: Uint8Array, offsets: Uint32Array }, got ${describeValue(input)}`);
    }
    const packMs = performance.now() - t0;
    const includeStats = options.includeStats ?? false;

    let result: BatchRouting;
    const lost = backend === 'auto' && this.gpuFailed instanceof DeviceLostError;
    const target = lost ? 'cpu' : backend === 'auto' ? (await this.chooseBackend()).backend : backend;
    if (target !== 'gpu') {
      result = this.routeCpu(batch, includeStats, packMs, t0, target);
      if (backend === 'auto' && this.gpuFailed instanceof DeviceLostError) result.fallback = true;
    } else {
      const gpu = await this.acquireGpu('gpu');
      if (!gpu) throw new Error('unreachable: acquireGpu("gpu") returns a GPU or throws');
      try {
        const t1 = performance.now();
        const r = await gpu.router.route(batch.bytes, batch.offsets, includeStats);
        const computeMs = performance.now() - t1;
        result = this.finish(r, r.stats, 'gpu', gpu.ctx.description, { packMs, computeMs, ...r.timings, totalMs: performance.now() - t0 });
      } catch (err) {
        if (!(err instanceof DeviceLostError) || backend === 'gpu') throw err;
        this.gpuFailed = err;
        this.warn(`${err.message}; routing on the CPU from now on`);
        result = this.routeCpu(batch, includeStats, packMs, t0, 'cpu');
        result.fallback = true;
      }
    }
    this.recordBatch(result);
    return result;
  }

  private routeCpu(batch: PackedBatch, includeStats: boolean, packMs: number, t0: number, backend: 'cpu' | 'cpu-reference'): BatchRouting {
    const t1 = performance.now();
    const n = batchSize(batch);
    if (backend === 'cpu') {
      // The fused kernel keeps no statistics: asked for them, the reference computes them (the same integers).
      this.fastCpu ??= new CpuBackend();
      const r = { experts: new Uint32Array(n), scoresQ16: new Uint32Array(n), confidenceQ16: new Uint32Array(n) };
      this.fastCpu.routeInto(batch.bytes, batch.offsets, n, this.config, r);
      const stats = includeStats ? computeStatistics(batch.bytes, batch.offsets) : undefined;
      return this.finish(r, stats, 'cpu', this.fastCpu.description, { packMs, computeMs: performance.now() - t1, totalMs: performance.now() - t0 });
    }
    const stats = computeStatistics(batch.bytes, batch.offsets);
    const r = scoreStatistics(this.config, stats, n);
    const computeMs = performance.now() - t1;
    return this.finish(r, includeStats ? stats : undefined, backend, CPU_ADAPTER, { packMs, computeMs, totalMs: performance.now() - t0 });
  }

  /**
   * What this router's backend resolves to, and why. 'auto' opens the GPU once
   * to see what it is: a hardware adapter is used; a software one (llvmpipe)
   * is released in favour of the fast CPU backend; no adapter means the CPU.
   */
  chooseBackend(): Promise<BackendChoice> {
    if (this.backend !== 'auto') {
      const why = this.backend === 'gpu' ? 'asked for (--backend gpu)' : `asked for (--backend ${this.backend})`;
      return Promise.resolve({ backend: this.backend, reason: why });
    }
    this.autoChoice ??= (async (): Promise<BackendChoice> => {
      // No GPU device node and nothing asked of the GPU: there is no hardware adapter to find.
      const asked = this.gpuOptions !== undefined || this.autoTakesSoftware || [GPU_BACKEND_ENV, GPU_ADAPTER_ENV].some((k) => (process.env[k] ?? '') !== '');
      if (!asked && gpuDeviceNodes()?.length === 0) {
        return { backend: 'cpu', reason: 'auto: no GPU device on this machine (no /dev/dri render node, /dev/nvidia* or /dev/dxg), so the fast CPU backend' };
      }
      const gpu = await this.acquireGpu('auto');
      if (!gpu) {
        // No adapter is a fact of the machine; missing bindings are an install problem the user can fix.
        // A named adapter that is not there is a setting the user made: say so too.
        const named = (this.gpuOptions?.adapter ?? process.env[GPU_ADAPTER_ENV] ?? '') !== '';
        if (this.gpuFailed instanceof GpuUnavailableError && (this.gpuFailed.bindingsMissing || named)) this.warn(`${this.gpuFailed.message} Routing on the CPU.`);
        return { backend: 'cpu', reason: `auto: no WebGPU adapter (${this.gpuFailed?.message ?? 'none found'})` };
      }
      if (gpu.ctx.software && !this.autoTakesSoftware) {
        await this.releaseGpu();
        return { backend: 'cpu', reason: `auto: the only adapter is a software one (${gpu.ctx.description}); the fast CPU backend is faster (--backend gpu forces it)` };
      }
      return { backend: 'gpu', reason: `auto: ${gpu.ctx.software ? 'a software adapter, allowed by ' + AUTO_SOFTWARE_GPU_ENV : 'a hardware GPU'}` };
    })();
    return this.autoChoice;
  }

  /**
   * Whether the GPU this router routes on is a software adapter (llvmpipe, lavapipe): it opens the
   * GPU (or throws GpuUnavailableError as routeBatch would). Callers that would spread host work
   * over worker threads keep it in one thread then, as the adapter's own threads use those cores.
   */
  async gpuIsSoftware(): Promise<boolean> {
    const gpu = await this.acquireGpu('gpu');
    return gpu?.ctx.software ?? false;
  }

  private async releaseGpu(): Promise<void> {
    const gpu = this.gpu;
    this.gpu = null;
    if (!gpu) return;
    try {
      const { ctx, router } = await gpu;
      router.destroy();
      ctx.destroy();
    } catch {
      // opening failed: nothing to release
    }
  }

  private finish(
    r: { experts: Uint32Array; scoresQ16: Uint32Array; confidenceQ16: Uint32Array },
    stats: Uint32Array | undefined,
    backend: 'gpu' | 'cpu' | 'cpu-reference',
    adapter: string,
    timings: BatchTimings,
  ): BatchRouting {
    const n = r.experts.length;
    const scores = new Float32Array(n);
    const confidence = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      scores[i] = r.scoresQ16[i] / ONE;
      confidence[i] = r.confidenceQ16[i] / ONE;
    }
    this.lastBackend = backend;
    this.adapter = adapter;
    return {
      count: n,
      experts: r.experts,
      scores,
      confidence,
      scoresQ16: r.scoresQ16,
      confidenceQ16: r.confidenceQ16,
      ...(stats ? { stats } : {}),
      backend,
      adapter,
      timings,
    };
  }

  /** The GPU router, or null when 'auto' falls back to the CPU. */
  private async acquireGpu(backend: 'auto' | 'gpu'): Promise<{ ctx: GpuContext; router: GpuRouter } | null> {
    if (this.gpuFailed) {
      if (backend === 'gpu') throw this.gpuFailed;
      return null;
    }
    this.gpu ??= (async () => {
      const ctx = await GpuContext.open(this.gpuOptions);
      try {
        const limits = { ...defaultPlanLimits(ctx.limits), ...this.gpuOptions?.planLimits };
        const router = await ctx.checked('creating the pipelines', () => new GpuRouter(ctx, this.config, limits));
        return { ctx, router };
      } catch (err) {
        ctx.destroy();
        throw err;
      }
    })();
    try {
      return await this.gpu;
    } catch (err) {
      // Concurrent first calls share one failed open; 'auto' then routes on the CPU and says why in chooseBackend.
      this.gpu = null;
      this.gpuFailed = err as Error;
      if (backend === 'gpu' || !(err instanceof GpuUnavailableError)) throw err;
      return null;
    }
  }

  /**
   * Destroys the real GPU device as a driver reset would, so tests can check
   * what happens to work after a device loss. The next GPU batch sees a
   * DeviceLostError ('auto' then falls back to the CPU). Not for production use.
   */
  async loseDeviceForTesting(): Promise<void> {
    const gpu = await this.acquireGpu('gpu');
    if (!gpu) return;
    gpu.ctx.device.destroy();
    await gpu.ctx.device.lost;
  }

  private assertUsable(): void {
    if (this.disposed) throw new DisposedError();
  }

  /** Releases the GPU device; the process can exit afterwards. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.releaseGpu();
  }
}

export { FEATURE_NAMES, STATS_STRIDE };
