/**
 * One memory for several modules: each keeps its data and stack in its own
 * region (scripts/build-wasm.mjs builds them at different bases), and the
 * areas the host lays out go above them all. A chunk then passes from the
 * line packer to the kernel to the formatter without being copied.
 */
import { align8, growTo, instantiate, newMemory, type ModuleExports, type WasmMemory } from './instance.js';

export class SharedMemory {
  readonly memory: WasmMemory = newMemory();
  private readonly instances = new Map<string, ModuleExports>();
  /** First free byte above every module's region. */
  private next: number;

  /** Instantiates every module first, so that no area is placed where a later module keeps its data. */
  constructor(modules: readonly URL[]) {
    const regions: { url: string; from: number; to: number }[] = [];
    for (const url of modules) {
      const x = instantiate<ModuleExports>(url, this.memory);
      this.instances.set(url.href, x);
      regions.push({ url: url.href, from: x.global_base(), to: x.heap_base() });
    }
    regions.sort((a, b) => a.from - b.from);
    for (let k = 1; k < regions.length; k++) {
      if (regions[k].from < regions[k - 1].to) {
        throw new Error(`${regions[k - 1].url} and ${regions[k].url} overlap in a shared memory: give them bases further apart in scripts/build-wasm.mjs`);
      }
    }
    this.next = align8(Math.max(0, ...regions.map((r) => r.to)));
  }

  /** The instance of the module at `url` on this memory (one of those given to the constructor). */
  instance<T extends ModuleExports>(url: URL): T {
    const x = this.instances.get(url.href);
    if (!x) throw new Error(`${url.href} was not instantiated on this memory`);
    return x as T;
  }

  /** Where the next area goes (a host lays out its windows from here, then calls reserveTo). */
  get at(): number {
    return this.next;
  }

  /** Marks the memory up to `end` as used, and grows it to hold it. */
  reserveTo(end: number): void {
    this.next = align8(Math.max(this.next, end));
    growTo(this.memory, this.next);
  }

  /** `bytes` bytes of an area of the caller's. */
  reserve(bytes: number): number {
    const at = this.next;
    this.reserveTo(at + bytes);
    return at;
  }
}
