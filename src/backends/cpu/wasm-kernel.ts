/**
 * Host side of the WebAssembly kernel (kernel.c -> kernel.wasm). Writes the
 * model's tables into the module's memory, then routes a batch window by
 * window: the batch's bytes may be up to 4 GiB, so they are copied in pieces
 * of at most `windowBytes` into memory sized once at construction; a record
 * longer than a window is counted run by run.
 */
import type { RouterConfig } from '../../model/router-config.js';
import { align8, growTo, instantiate, type ModuleExports, MemoryViews } from '../../wasm/instance.js';
import type { SharedMemory } from '../../wasm/shared-memory.js';
import { windowEnd } from '../../wasm/windows.js';
import { KERNEL_PARAMS, MODEL_TABLES, checkRouteArguments, configTables, type FastKernel, type RouteOutput } from './kernel-tables.js';

export { wasmAvailable } from '../../wasm/instance.js';

/** The module, for a SharedMemory to instantiate. */
export const KERNEL_WASM = new URL('./kernel.wasm', import.meta.url);

interface KernelExports extends ModuleExports {
  params_ptr(): number;
  param_count(): number;
  byte_class_ptr(): number;
  token_start_ptr(): number;
  transition_ptr(): number;
  feature_kind_ptr(): number;
  feature_num_ptr(): number;
  feature_den_ptr(): number;
  feature_cap_ptr(): number;
  feature_weight_ptr(): number;
  boundaries_ptr(): number;
  max_classes(): number;
  max_features(): number;
  max_boundaries(): number;
  configure(): number;
  route_window(bytes: number, offsets: number, count: number, base: number, experts: number, scores: number, conf: number): void;
  count_experts(experts: number, count: number, counts: number): void;
  long_reset(): void;
  long_add(bytes: number, length: number): void;
  long_finish(expert: number, score: number, conf: number): void;
}

export interface WasmKernelOptions {
  /** Bytes copied into the module per call (default 4 MiB). Tests make it tiny to cross windows. */
  windowBytes?: number;
  /** Records per call (default 65536). */
  windowRecords?: number;
  /** A memory shared with the other modules: the module's instance there, the windows above every module's region. */
  shared?: SharedMemory;
}

export class WasmKernel implements FastKernel {
  readonly kind = 'wasm' as const;
  private readonly x: KernelExports;
  private readonly windowBytes: number;
  private readonly windowRecords: number;
  private readonly bytesPtr: number;
  private readonly offsetsPtr: number;
  private readonly expertsPtr: number;
  private readonly scoresPtr: number;
  private readonly confPtr: number;
  private readonly views: MemoryViews;
  private config: RouterConfig | null = null;

  constructor(options: WasmKernelOptions = {}) {
    this.windowBytes = Math.max(1, Math.floor(options.windowBytes ?? 4 << 20));
    this.windowRecords = Math.max(1, Math.floor(options.windowRecords ?? 65536));
    this.x = options.shared ? options.shared.instance<KernelExports>(KERNEL_WASM) : instantiate<KernelExports>(KERNEL_WASM);
    if (this.x.param_count() !== KERNEL_PARAMS.length) {
      throw new Error(`kernel.wasm expects ${this.x.param_count()} parameters, the host has ${KERNEL_PARAMS.length}: rebuild it (npm run build:wasm)`);
    }
    this.bytesPtr = align8(options.shared?.at ?? this.x.heap_base());
    this.offsetsPtr = align8(this.bytesPtr + this.windowBytes);
    this.expertsPtr = align8(this.offsetsPtr + 4 * (this.windowRecords + 1));
    this.scoresPtr = align8(this.expertsPtr + 4 * this.windowRecords);
    this.confPtr = align8(this.scoresPtr + 4 * this.windowRecords);
    const end = this.confPtr + 4 * this.windowRecords;
    options.shared?.reserveTo(end);
    const memory = this.x.memory;
    growTo(memory, end);
    this.views = new MemoryViews(memory);
    const { byteClass, tokenStart, transition } = MODEL_TABLES;
    if (Math.sqrt(tokenStart.length) > this.x.max_classes()) {
      throw new Error(`kernel.wasm packs at most ${this.x.max_classes()} byte classes; the model has ${Math.sqrt(tokenStart.length)}`);
    }
    this.views.u8.set(byteClass, this.x.byte_class_ptr());
    this.views.u8.set(tokenStart, this.x.token_start_ptr());
    this.views.u8.set(transition, this.x.transition_ptr());
  }

  private use(config: RouterConfig): void {
    if (this.config === config) return;
    const t = configTables(config);
    if (t.featureKind.length > this.x.max_features()) throw new Error(`kernel.wasm takes at most ${this.x.max_features()} features`);
    if (t.boundaries.length >= this.x.max_boundaries()) throw new Error(`kernel.wasm takes at most ${this.x.max_boundaries() - 1} boundaries`);
    const m = this.views.u32;
    m.set(KERNEL_PARAMS.map((p) => t.params[p]), this.x.params_ptr() >>> 2);
    m.set(t.featureKind, this.x.feature_kind_ptr() >>> 2);
    m.set(t.featureNum, this.x.feature_num_ptr() >>> 2);
    m.set(t.featureDen, this.x.feature_den_ptr() >>> 2);
    m.set(t.featureCap, this.x.feature_cap_ptr() >>> 2);
    m.set(t.featureWeight, this.x.feature_weight_ptr() >>> 2);
    m.set(t.boundaries, this.x.boundaries_ptr() >>> 2);
    const failed = this.x.configure();
    if (failed !== 0) throw new Error(`kernel.wasm rejected the model's ${KERNEL_PARAMS[failed - 1] ?? 'tables'}`);
    this.config = config;
  }

  /**
   * Routes `count` records already in the memory (a shared one: the bytes, offsets and results are
   * the caller's areas there): record i is bytes[offsets[i] - base, offsets[i + 1] - base).
   */
  routeInMemory(config: RouterConfig, at: { bytes: number; offsets: number; count: number; base: number; experts: number; scores: number; conf: number }): void {
    this.use(config);
    this.x.route_window(at.bytes, at.offsets, at.count, at.base, at.experts, at.scores, at.conf);
  }

  /** Adds the records of each expert among `count` results in the memory to counts[expert] (words at `counts`). */
  countExpertsInMemory(experts: number, count: number, counts: number): void {
    this.x.count_experts(experts, count, counts);
  }

  routeInto(bytes: Uint8Array, offsets: Uint32Array, count: number, config: RouterConfig, out: RouteOutput): void {
    checkRouteArguments(bytes, offsets, count, out);
    this.use(config);
    const x = this.x;
    const { u8: mem8, u32: mem32 } = this.views;
    const W = this.windowBytes;
    const R = this.windowRecords;
    const { bytesPtr, offsetsPtr, expertsPtr, scoresPtr, confPtr } = this;
    let i = 0;
    while (i < count) {
      const start = offsets[i];
      if (offsets[i + 1] - start > W) {
        // One record longer than a window: count it run by run.
        const end = offsets[i + 1];
        x.long_reset();
        for (let pos = start; pos < end; pos += W) {
          const stop = Math.min(end, pos + W);
          mem8.set(bytes.subarray(pos, stop), bytesPtr);
          x.long_add(bytesPtr, stop - pos);
        }
        x.long_finish(expertsPtr, scoresPtr, confPtr);
        out.experts[i] = mem32[expertsPtr >>> 2];
        out.scoresQ16[i] = mem32[scoresPtr >>> 2];
        out.confidenceQ16[i] = mem32[confPtr >>> 2];
        i++;
        continue;
      }
      const j = windowEnd(offsets, i, count, W, R);
      const n = j - i;
      mem8.set(bytes.subarray(start, offsets[j]), bytesPtr);
      mem32.set(offsets.subarray(i, j + 1), offsetsPtr >>> 2);
      x.route_window(bytesPtr, offsetsPtr, n, start, expertsPtr, scoresPtr, confPtr);
      out.experts.set(mem32.subarray(expertsPtr >>> 2, (expertsPtr >>> 2) + n), i);
      out.scoresQ16.set(mem32.subarray(scoresPtr >>> 2, (scoresPtr >>> 2) + n), i);
      out.confidenceQ16.set(mem32.subarray(confPtr >>> 2, (confPtr >>> 2) + n), i);
      i = j;
    }
  }
}
