/**
 * The route job: source -> batches -> backend -> sinks, with events.
 *
 * Batches are routed in order, at most `inFlight` ahead of the sinks (so the
 * next batch is read and routed while the previous one is written, and memory
 * stays bounded). Every record read gives one record to the sinks, unless a
 * bad record stops the run (`onError: 'fail'`): then the records before it are
 * written and the job reports the failure. Backend choice and device-loss
 * fallback live in routeWithFallback, which the streaming API uses too.
 */
import { DeviceLostError, InputError } from '../errors.js';
import type { Backend, BatchRouting, SwitchedMoE } from '../router/switched-moe.js';
import type { PackedBatch } from '../model/packed-batch.js';
import type { RecordBatch } from '../sources/record-reader.js';
import type { RecordSink } from '../sinks/record-sinks.js';
import { NO_EXPERT, type BatchEvent, type RouteJobListener } from './events.js';
import { shares, type RunStats } from './run-stats.js';

export interface FallbackState {
  /** Batches routed on the CPU because the GPU device was lost. */
  cpuFallbackBatches: number;
  deviceLost: boolean;
}

export interface RoutingPolicy {
  backend?: Backend;
  onWarning?: (message: string) => void;
  /** Test hook: called after each GPU batch with the number of GPU batches done. */
  afterGpuBatch?: (done: number) => Promise<void> | void;
}

/**
 * Routes one batch on the chosen backend. If the GPU device is lost (with
 * 'auto' or 'gpu'), this batch and every later one go to the CPU, which gives
 * the same bits, with one warning; `state` counts those batches.
 */
export function routeWithFallback(moe: SwitchedMoE, policy: RoutingPolicy, state: FallbackState): (batch: PackedBatch) => Promise<BatchRouting> {
  let gpuBatches = 0;
  return async (batch) => {
    if (state.deviceLost) {
      state.cpuFallbackBatches++;
      return moe.routeBatch(batch, { backend: 'cpu' });
    }
    try {
      const r = await moe.routeBatch(batch, policy.backend ? { backend: policy.backend } : {});
      if (r.fallback) {
        // 'auto' met the loss inside routeBatch (and warned): from now on the CPU.
        state.deviceLost = true;
        state.cpuFallbackBatches++;
      } else if (r.backend === 'gpu' && policy.afterGpuBatch) {
        await policy.afterGpuBatch(++gpuBatches);
      }
      return r;
    } catch (err) {
      if (!(err instanceof DeviceLostError)) throw err;
      state.deviceLost = true;
      policy.onWarning?.(`${err.message}; this batch and all later ones are routed on the CPU (identical results)`);
      state.cpuFallbackBatches++;
      return moe.routeBatch(batch, { backend: 'cpu' });
    }
  };
}

export interface JobInput {
  /** Name for messages and stats ("stdin" for -). */
  name: string;
  format: string;
  /** Bytes to read when known (progress). */
  size: number | null;
  /** Extra fields for the stats (shard part, input identity, ...). */
  statsExtra?: () => Partial<RunStats>;
}

export interface RouteJobOptions extends RoutingPolicy {
  moe: SwitchedMoE;
  input: JobInput;
  batches: AsyncIterable<RecordBatch>;
  sinks: readonly RecordSink[];
  onError: 'fail' | 'skip';
  listeners?: readonly RouteJobListener[];
  /** Batches routed ahead of the sinks (default 2). */
  inFlight?: number;
}

export interface RouteJobResult {
  stats: RunStats;
  /** The bad record that stopped the run (onError 'fail'), or null. */
  failure: InputError | null;
}

/**
 * Runs the job to its end. Sinks are finished but not committed (the caller
 * commits its files, all or nothing). On an exception (a sink that cannot
 * write, an internal error) every routing still in flight has settled before
 * it propagates, so the caller may release the device at once.
 */
export async function runRouteJob(o: RouteJobOptions): Promise<RouteJobResult> {
  const t0 = performance.now();
  const startedAt = Date.now();
  const moe = o.moe;
  const listeners = o.listeners ?? [];
  const numExperts = moe.numExperts;
  const state: FallbackState = { cpuFallbackBatches: 0, deviceLost: false };
  const route = routeWithFallback(moe, o, state);
  const totals = { recordsIn: 0, recordsOut: 0, routed: 0, errors: 0, bytes: 0, elapsedMs: 0 };
  const perExpert = new Array<number>(numExperts).fill(0);
  const backends = new Set<string>();
  const adapters = new Set<string>();

  for (const l of listeners) {
    l.onStart?.({
      input: o.input.name,
      format: o.input.format,
      inputSize: o.input.size,
      numExperts,
      boundaries: [...moe.config.boundaries],
      expertDescriptions: Array.from({ length: numExperts }, (_, e) => moe.config.expertDescriptions[e]),
      backend: o.backend ?? 'auto',
      startedAt,
    });
  }

  const stats = (complete: boolean): RunStats => {
    const seconds = (performance.now() - t0) / 1000;
    return {
      version: 1,
      input: o.input.name,
      format: o.input.format,
      recordsIn: totals.recordsIn,
      recordsOut: totals.recordsOut,
      routed: totals.routed,
      errors: totals.errors,
      bytes: totals.bytes,
      numExperts,
      boundaries: [...moe.config.boundaries],
      perExpert: [...perExpert],
      shares: shares(perExpert, totals.routed),
      backend: backends.size ? [...backends].join('+') : o.backend === 'cpu' ? 'cpu' : 'none',
      adapter: adapters.size ? [...adapters].join('; ') : '(nothing routed)',
      cpuFallbackBatches: state.cpuFallbackBatches,
      seconds,
      mbPerSecond: seconds > 0 ? totals.bytes / 1e6 / seconds : 0,
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
      complete,
      ...(o.input.statsExtra?.() ?? {}),
    };
  };

  interface InFlight {
    batch: RecordBatch;
    started: number;
    routing: Promise<BatchRouting | null>;
    fallbackBefore: number;
  }
  const queue: InFlight[] = [];
  // GPU work is serialised (one batch on the device at a time); reading overlaps it.
  let chain: Promise<unknown> = Promise.resolve();
  const start = (batch: RecordBatch): InFlight => {
    const job: InFlight = { batch, started: 0, routing: Promise.resolve(null), fallbackBefore: 0 };
    const p = chain.then(async () => {
      job.started = performance.now();
      job.fallbackBefore = state.cpuFallbackBatches;
      return batch.count === 0 || batch.errors.length === batch.count ? null : route(batch.text);
    });
    chain = p.catch(() => undefined);
    p.catch(() => undefined); // awaited (and thrown) in order below
    job.routing = p;
    return job;
  };

  let seq = 0;
  let failure: InputError | null = null;
  const inFlight = Math.max(1, o.inFlight ?? 2);

  const deliver = async (job: InFlight): Promise<boolean> => {
    const routing = await job.routing;
    const routeMs = performance.now() - job.started;
    const { batch } = job;
    if (routing) {
      backends.add(routing.backend);
      adapters.add(routing.adapter);
    }
    const firstError = o.onError === 'fail' && batch.errors.length > 0 ? batch.errors[0] : null;
    const upTo = firstError ? firstError.local : batch.count;
    const w0 = performance.now();
    for (const s of o.sinks) await s.write({ batch, routing, upTo });
    const writeMs = performance.now() - w0;

    // Tallies: error records carry NO_EXPERT in the event arrays.
    const experts = new Uint32Array(upTo);
    const batchPerExpert = new Array<number>(numExperts).fill(0);
    if (routing) experts.set(routing.experts.subarray(0, upTo));
    let errors = 0;
    for (const e of batch.errors) {
      if (e.local >= upTo) break;
      experts[e.local] = NO_EXPERT;
      errors++;
    }
    for (let i = 0; i < upTo; i++) if (experts[i] !== NO_EXPERT) batchPerExpert[experts[i]]++;
    for (let e = 0; e < numExperts; e++) perExpert[e] += batchPerExpert[e];
    totals.errors += errors;
    totals.routed += upTo - errors;
    totals.recordsOut += upTo;
    totals.recordsIn += upTo;
    totals.bytes += batch.inputBytes;
    if (firstError) {
      // The bad record was read but stops the run: it is not written.
      totals.recordsIn++;
      totals.errors++;
      failure = new InputError(o.input.name, firstError.line, `${firstError.message} (record ${batch.firstIndex + firstError.local}; --on-error skip writes an error record and goes on)`);
    }
    totals.elapsedMs = performance.now() - t0;
    if (listeners.length > 0) {
      const empty = new Uint32Array(upTo);
      const event: BatchEvent = {
        seq: seq++,
        firstIndex: batch.firstIndex,
        records: upTo,
        errors,
        inputBytes: batch.inputBytes,
        experts,
        scoresQ16: routing ? routing.scoresQ16.subarray(0, upTo) : empty,
        confidenceQ16: routing ? routing.confidenceQ16.subarray(0, upTo) : empty,
        text: batch.text,
        perExpert: batchPerExpert,
        backend: routing?.backend ?? 'none',
        adapter: routing?.adapter ?? '',
        fallback: state.cpuFallbackBatches > job.fallbackBefore,
        timings: { routeMs, writeMs },
        totals: { ...totals },
      };
      for (const l of listeners) l.onBatch?.(event);
    }
    return failure === null;
  };

  try {
    reading: for await (const batch of o.batches) {
      queue.push(start(batch));
      while (queue.length >= inFlight) {
        if (!(await deliver(queue.shift() as InFlight))) break reading;
      }
    }
    while (failure === null && queue.length > 0) await deliver(queue.shift() as InFlight);
    if (failure === null) for (const s of o.sinks) await s.finish();
  } finally {
    // Work still in flight (read ahead past a failure) settles before the caller releases the device.
    await Promise.allSettled(queue.map((j) => j.routing));
  }
  const final = stats(failure === null);
  for (const l of listeners) l.onEnd?.(final);
  return { stats: final, failure };
}
