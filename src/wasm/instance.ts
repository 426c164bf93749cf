/**
 * Loading the committed WebAssembly modules (the CPU kernel, the output
 * formatter, the line packer): compiled once per thread, each instantiated on
 * a memory the host gives it (its own, or one it shares with the other two:
 * shared-memory.ts), grown once to the size the host lays out.
 */
import { readFileSync } from 'node:fs';

// The WebAssembly API as these modules use it: the project's TypeScript libs (ES2023, node 20
// types) do not declare the global, and where it is missing the JavaScript twins run instead.
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
  Memory: new (descriptor: { initial: number }) => WasmMemory;
}
const wasmApi = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

/** Whether this runtime can run the modules at all. */
export function wasmAvailable(): boolean {
  return wasmApi !== undefined && typeof wasmApi.Module === 'function';
}

const compiled = new Map<string, object>();

const PAGE = 65536;
/**
 * Pages a memory starts with: room for every module's data and stack, which sit at the bases
 * scripts/build-wasm.mjs gives them (the formatter's ends near 2.7 MiB). A module that outgrew it
 * fails to instantiate, in every test. Pages never touched cost no resident memory.
 */
const INITIAL_PAGES = 48;

/** A memory for one module, or for the three to share. */
export function newMemory(): WasmMemory {
  if (wasmApi === undefined) throw new Error('this runtime has no WebAssembly');
  return new wasmApi.Memory({ initial: INITIAL_PAGES });
}

/** The exports every module has besides its own. */
export interface ModuleExports {
  memory: WasmMemory;
  /** The module's region of the memory, [global_base, heap_base): its data and its stack. */
  global_base(): number;
  heap_base(): number;
}

/** The module at `url`, compiled once per thread. */
export function compileModule(url: URL): object {
  if (wasmApi === undefined) throw new Error('this runtime has no WebAssembly');
  let module = compiled.get(url.href);
  if (module === undefined) {
    module = new wasmApi.Module(readFileSync(url));
    compiled.set(url.href, module);
  }
  return module;
}

/**
 * A new instance of the module at `url` (a .wasm beside its host file in src/ and, after the build,
 * in dist/), on `memory` (by default a memory of its own).
 */
export function instantiate<T extends ModuleExports>(url: URL, memory: WasmMemory = newMemory()): T {
  if (wasmApi === undefined) throw new Error('this runtime has no WebAssembly');
  const exports = new wasmApi.Instance(compileModule(url), { env: { memory } }).exports;
  return { ...exports, memory } as T;
}

/** Grows `memory` to hold at least `bytes` bytes. Views made afterwards stay valid as long as it does not grow again. */
export function growTo(memory: WasmMemory, bytes: number): void {
  const missing = Math.ceil(bytes / PAGE) - memory.buffer.byteLength / PAGE;
  if (missing > 0) memory.grow(missing);
}

/**
 * Byte and word views of a memory, made again once it has grown: growing detaches the old buffer,
 * and a memory shared by several hosts grows as each lays out its areas after the others made
 * their views.
 */
export class MemoryViews {
  private buffer: ArrayBuffer | null = null;
  private bytes = new Uint8Array(0);
  private words = new Uint32Array(0);

  constructor(private readonly memory: WasmMemory) {}

  private fresh(): void {
    if (this.buffer === this.memory.buffer) return;
    this.buffer = this.memory.buffer;
    this.bytes = new Uint8Array(this.buffer);
    this.words = new Uint32Array(this.buffer);
  }

  get u8(): Uint8Array {
    this.fresh();
    return this.bytes;
  }

  get u32(): Uint32Array {
    this.fresh();
    return this.words;
  }
}

/** Rounds up to a multiple of 8. */
export const align8 = (n: number): number => (n + 7) & ~7;
