/**
 * The one interface every routing backend implements: cpu-reference (the
 * readable oracle), cpu (the fast kernel) and gpu. All three return the same
 * integers for the same bytes; which one runs is a speed choice only.
 */
import type { PackedBatch } from '../model/packed-batch.js';
import type { RouterConfig } from '../model/router-config.js';

export type BackendName = 'cpu-reference' | 'cpu' | 'gpu';

/** Per-record results in their exact integer form (Q16 = value / 65536). */
export interface RouteResult {
  count: number;
  experts: Uint32Array;
  scoresQ16: Uint32Array;
  confidenceQ16: Uint32Array;
  /** Stage times in ms; which stages exist depends on the backend. */
  timings: Record<string, number>;
}

export interface RoutingBackend {
  readonly name: BackendName;
  /** Human-readable: the adapter for the GPU, the kernel for the CPU. */
  readonly description: string;
  route(batch: PackedBatch, config: RouterConfig): Promise<RouteResult>;
  /** Releases what the backend holds (a device, workers); it cannot route afterwards. */
  dispose(): Promise<void>;
}
