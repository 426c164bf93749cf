/**
 * Loading the committed WebAssembly modules (the CPU kernel, the output
 * formatter): compiled once per thread, instantiated with no imports, their
 * memory grown once to the size the host lays out.
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
}
const wasmApi = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

/** Whether this runtime can run the modules at all. */
export function wasmAvailable(): boolean {
  return wasmApi !== undefined && typeof wasmApi.Module === 'function';
}

const compiled = new Map<string, object>();

/** A new instance of the module at `url` (a .wasm beside its host file in src/ and, after the build, in dist/). */
export function instantiate<T extends { memory: WasmMemory }>(url: URL): T {
  if (wasmApi === undefined) throw new Error('this runtime has no WebAssembly');
  let module = compiled.get(url.href);
  if (module === undefined) {
    module = new wasmApi.Module(readFileSync(url));
    compiled.set(url.href, module);
  }
  return new wasmApi.Instance(module, {}).exports as T;
}

const PAGE = 65536;

/** Grows `memory` to hold at least `bytes` bytes. Views made afterwards stay valid as long as it does not grow again. */
export function growTo(memory: WasmMemory, bytes: number): void {
  const missing = Math.ceil(bytes / PAGE) - memory.buffer.byteLength / PAGE;
  if (missing > 0) memory.grow(missing);
}

/** Rounds up to a multiple of 8. */
export const align8 = (n: number): number => (n + 7) & ~7;
