/**
 * The route job: source -> batches -> backend -> formatter -> sinks, with events.
 *
 * Two producers give the job formatted batches in input order:
 * - in process (inProcessBatches): record batches from a source are routed on
 *   the main thread's backend (the GPU, or the CPU) at most `inFlight` ahead,
 *   and formatted here;
 * - in workers (src/job/parallel/): each worker parses, routes and formats
 *   its own chunks of the input.
 * Every record read gives one output record, unless a bad record stops the
 * run (`onError: 'fail'`): then the records before it are written and the job
 * reports the failure. Backend choice and device-loss fallback live in
 * routeWithFallback, which the streaming API uses too.
 */
import { DeviceLostError, InputError } from '../errors.js';
import type { Backend, BatchRouting, SwitchedMoE } from '../router/switched-moe.js';
import type { PackedBatch } from '../model/packed-batch.js';
import type { RecordBatch } from '../sources/record-reader.js';
import { outputHeader, type OutputSpec, type Routed } from '../sinks/batch-formatter.js';
import type { ByteWriter } from '../sinks/byte-writer.js';
import type { BatchEvent, RouteJobListener } from './events.js';
import { toFormattedBatch, type BatchRoutingInfo, type FormattedBatch } from './formatted-batch.js';
import { shares, STATS_VERSION, type RunStats } from './run-stats.js';
import type { InputFingerprint } from './input-fingerprint.js';
import { routerFingerprint } from '../model/router-fingerprint.js';

export interface FallbackState {
  /** Batches routed on the CPU because the GPU device was lost. */
  cpuFallbackBatches: number;
  deviceLost: boolean;
}

export interface RoutingPolicy {
  backend?: Backend;
  /** Also return each record's statistics (routeBatch includeStats), e.g. for route --explain. */
  includeStats?: boolean;
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
  const stats = policy.includeStats ? { includeStats: true } : {};
  return async (batch) => {
    if (state.deviceLost) {
      state.cpuFallbackBatches++;
      return moe.routeBatch(batch, { backend: 'cpu', ...stats });
    }
    try {
      const r = await moe.routeBatch(batch, { ...(policy.backend ? { backend: policy.backend } : {}), ...stats });
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
      return moe.routeBatch(batch, { backend: 'cpu', ...stats });
    }
  };
}

/**
 * Chunks routed one at a time, in the order asked, as the formatter takes them: the results, the
 * backend, whether the batch fell back to the CPU, and how long it took. The in-process producer
 * and the workers' main-thread routing (GPU) both go through it.
 */
export function routeChunksWith(route: (batch: PackedBatch) => Promise<ChunkRouting>, state: FallbackState): (text: PackedBatch) => Promise<BatchRoutingInfo> {
  let chain: Promise<unknown> = Promise.resolve();
  return (text) => {
    const p = chain.then(async (): Promise<BatchRoutingInfo> => {
      const t0 = performance.now();
      const before = state.cpuFallbackBatches;
      const r = await route(text);
      return { ...routedOf(r), fallback: state.cpuFallbackBatches > before, routeMs: performance.now() - t0 };
    });
    chain = p.catch(() => undefined);
    return p;
  };
}

const BACKEND_ORDER = ['gpu', 'cpu', 'cpu-reference'];

/** What the formatter and the job need of a chunk's routing; its backend may name several ("gpu+cpu"). */
export interface ChunkRouting extends Routed {
  backend: string;
  adapter: string;
}

/** Only the integers, statistics and names of a routing (not its float copies or timings). */
function routedOf(r: ChunkRouting): ChunkRouting {
  return { experts: r.experts, scoresQ16: r.scoresQ16, confidenceQ16: r.confidenceQ16, ...(r.stats ? { stats: r.stats } : {}), backend: r.backend, adapter: r.adapter };
}

/**
 * Routes a chunk as batches of at most `maxRecords` records and about `maxBytes` bytes
 * (--batch-records, --batch-bytes): the device sees the batches the user asked for, and a device
 * lost between two of them sends only the later ones to the CPU. The results are joined in order.
 */
export function routeInPieces(route: (batch: PackedBatch) => Promise<BatchRouting>, maxRecords: number, maxBytes: number): (batch: PackedBatch) => Promise<ChunkRouting> {
  return async (batch) => {
    const n = batch.offsets.length - 1;
    if (n <= maxRecords && batch.offsets[n] - batch.offsets[0] <= maxBytes) return route(batch);
    const pieces: ChunkRouting[] = [];
    for (let i = 0; i < n; ) {
      let j = Math.min(n, i + Math.max(1, maxRecords));
      while (j > i + 1 && batch.offsets[j] - batch.offsets[i] > maxBytes) j = i + Math.max(1, (j - i) >>> 1);
      const base = batch.offsets[i];
      const offsets = batch.offsets.slice(i, j + 1);
      for (let k = 0; k < offsets.length; k++) offsets[k] -= base;
      pieces.push(routedOf(await route({ bytes: batch.bytes.subarray(base, batch.offsets[j]), offsets })));
      i = j;
    }
    const join = (get: (r: ChunkRouting) => Uint32Array | undefined): Uint32Array => {
      const out = new Uint32Array(pieces.reduce((t, r) => t + (get(r)?.length ?? 0), 0));
      let at = 0;
      for (const r of pieces) {
        const a = get(r) ?? new Uint32Array(0);
        out.set(a, at);
        at += a.length;
      }
      return out;
    };
    const names = (get: (r: ChunkRouting) => string, separator: string): string => [...new Set(pieces.map(get))].join(separator);
    return {
      experts: join((r) => r.experts),
      scoresQ16: join((r) => r.scoresQ16),
      confidenceQ16: join((r) => r.confidenceQ16),
      ...(pieces[0].stats ? { stats: join((r) => r.stats) } : {}),
      backend: names((r) => r.backend, '+'),
      adapter: names((r) => r.adapter, ' + '),
    };
  };
}

export interface JobInput {
  /** Name for messages and stats ("stdin" for -). */
  name: string;
  format: string;
  /** Bytes to read when known (progress). */
  size: number | null;
  /** What merge-stats checks the parts of one run against (src/job/input-fingerprint.ts). */
  fingerprint: InputFingerprint;
  /** Extra fields for the stats (shard part, cost, ...). */
  statsExtra?: () => Partial<RunStats>;
}

/** A sink that writes whole rows (Parquet output or shards): it gets each batch with its record batch. */
export interface RowSink {
  write(formatted: FormattedBatch, batch: RecordBatch): Promise<void>;
  /** Everything written: the file's footer. */
  finish(): Promise<void>;
}

export interface JobSinks {
  /** The output records (after a header for csv/tsv); null when the output is written by a row sink. */
  output: ByteWriter | null;
  /** Row sinks (they need the in-process path, which keeps each record batch). */
  rows?: readonly RowSink[];
  /** With --shards: one writer per expert, and the input's header line (csv/tsv) once known. */
  shards?: { writers: readonly ByteWriter[]; header: () => Uint8Array | null };
}

export interface RouteJobOptions {
  moe: SwitchedMoE;
  input: JobInput;
  /** Formatted batches in input order (inProcessBatches or the worker pool). */
  batches: AsyncIterable<FormattedBatch>;
  spec: OutputSpec;
  sinks: JobSinks;
  listeners?: readonly RouteJobListener[];
  /** Fallback batches so far (the producer's FallbackState). */
  fallbackBatches: () => number;
}

export interface RouteJobResult {
  stats: RunStats;
  /** The bad record that stopped the run (onError 'fail'), or null. */
  failure: InputError | null;
}

/**
 * Record batches routed on the main thread, `inFlight` ahead of the writer,
 * one at a time on the device, then formatted. When the consumer stops early
 * (a failure, a broken pipe), routing still in flight settles before the
 * generator returns, so the device can be released at once.
 */
export async function* inProcessBatches(
  moe: SwitchedMoE,
  batches: AsyncIterable<RecordBatch>,
  o: RoutingPolicy & {
    spec: OutputSpec;
    onError: 'fail' | 'skip';
    keepText: boolean;
    keepSource?: boolean;
    inFlight?: number;
    state: FallbackState;
    /** Route each batch in pieces of at most this many records and bytes (batches larger than --batch-records/--batch-bytes). */
    pieces?: { records: number; bytes: number };
  },
): AsyncGenerator<FormattedBatch> {
  const each = routeWithFallback(moe, o, o.state);
  const route = routeChunksWith(o.pieces ? routeInPieces(each, o.pieces.records, o.pieces.bytes) : each, o.state);
  interface InFlight {
    batch: RecordBatch;
    routing: Promise<BatchRoutingInfo | null>;
  }
  const queue: InFlight[] = [];
  const start = (batch: RecordBatch): InFlight => {
    const p = batch.count === 0 || batch.errors.length === batch.count ? Promise.resolve(null) : route(batch.text);
    p.catch(() => undefined); // awaited (and thrown) in order below
    return { batch, routing: p };
  };
  const finish = async (job: InFlight): Promise<FormattedBatch> => {
    // each record's results: for listeners (as the text) and for row sinks (which keep the record batch)
    const formatted = toFormattedBatch(job.batch, await job.routing, o.spec, o.onError, { text: o.keepText, results: o.keepText || (o.keepSource ?? false) }, moe.config);
    if (o.keepSource) formatted.source = job.batch;
    return formatted;
  };
  const inFlight = Math.max(1, o.inFlight ?? 2);
  try {
    for await (const batch of batches) {
      queue.push(start(batch));
      while (queue.length >= inFlight) yield await finish(queue.shift() as InFlight);
    }
    while (queue.length > 0) yield await finish(queue.shift() as InFlight);
  } finally {
    await Promise.allSettled(queue.map((j) => j.routing));
  }
}

/**
 * Runs the job to its end: writes every batch in order, tallies, tells the
 * listeners. Sinks are written but not committed (the caller commits its
 * files, all or nothing). Stopping early closes the producer, which settles
 * its work in flight.
 */
export async function runRouteJob(o: RouteJobOptions): Promise<RouteJobResult> {
  const t0 = performance.now();
  const moe = o.moe;
  const listeners = o.listeners ?? [];
  const numExperts = moe.numExperts;
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
      backend: moe.backendName,
      startedAt: Date.now(),
    });
  }

  const stats = (complete: boolean): RunStats => {
    const seconds = (performance.now() - t0) / 1000;
    return {
      version: STATS_VERSION,
      input: o.input.name,
      inputFingerprint: o.input.fingerprint,
      router: routerFingerprint(moe.config),
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
      // a fixed order: the workers' chunks may reach the device out of order ("gpu+cpu" after a loss, always)
      backend: backends.size ? [...backends].sort((a, b) => BACKEND_ORDER.indexOf(a) - BACKEND_ORDER.indexOf(b)).join('+') : 'none',
      adapter: adapters.size ? [...adapters].join('; ') : '(nothing routed)',
      cpuFallbackBatches: o.fallbackBatches(),
      seconds,
      mbPerSecond: seconds > 0 ? totals.bytes / 1e6 / seconds : 0,
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
      complete,
      ...(o.input.statsExtra?.() ?? {}),
    };
  };

  const header = outputHeader(o.spec, moe.config);
  if (header && o.sinks.output) await o.sinks.output.write(header);
  let shardHeaders = false;
  const writeShardHeaders = async (): Promise<void> => {
    const sh = o.sinks.shards;
    if (!sh || shardHeaders) return;
    const h = sh.header();
    if (!h) return;
    shardHeaders = true;
    const line = Buffer.concat([h, Buffer.from('\n')]);
    for (const w of sh.writers) await w.write(line);
  };

  let seq = 0;
  let failure: InputError | null = null;
  for await (const b of o.batches) {
    const w0 = performance.now();
    if (o.sinks.output) for (const part of b.output) await o.sinks.output.write(part);
    for (const r of o.sinks.rows ?? []) {
      if (!b.source) throw new Error('a row sink needs the in-process path (record batches kept)');
      await r.write(b, b.source);
    }
    if (o.sinks.shards) {
      await writeShardHeaders();
      if (b.shards) for (let e = 0; e < b.shards.length; e++) if (b.shards[e].length > 0) await o.sinks.shards.writers[e].write(b.shards[e]);
    }
    const writeMs = performance.now() - w0;
    if (b.records > b.errors) {
      // a chunk routed in pieces names each backend it used: "gpu+cpu" after a device loss
      for (const name of b.backend.split('+')) backends.add(name);
      for (const name of b.adapter.split(' + ')) adapters.add(name);
    }
    const batchPerExpert = Array.from(b.perExpert);
    for (let e = 0; e < numExperts; e++) perExpert[e] += batchPerExpert[e];
    totals.errors += b.errors;
    totals.routed += b.records - b.errors;
    totals.recordsOut += b.records;
    totals.recordsIn += b.records;
    totals.bytes += b.inputBytes;
    if (b.failure) {
      // The bad record was read but stops the run: it is not written.
      totals.recordsIn++;
      totals.errors++;
      failure = new InputError(o.input.name, b.failure.line, `${b.failure.message} (record ${b.failure.index}; --on-error skip writes an error record and goes on)`);
    }
    totals.elapsedMs = performance.now() - t0;
    if (listeners.length > 0) {
      const event: BatchEvent = {
        seq: seq++,
        firstIndex: b.firstIndex,
        records: b.records,
        errors: b.errors,
        inputBytes: b.inputBytes,
        experts: b.experts,
        scoresQ16: b.scoresQ16,
        confidenceQ16: b.confidenceQ16,
        text: b.text ?? { bytes: new Uint8Array(0), offsets: new Uint32Array(b.records + 1) },
        perExpert: batchPerExpert,
        backend: b.backend,
        adapter: b.adapter,
        fallback: b.fallback,
        timings: { routeMs: b.timings.routeMs, writeMs: writeMs + b.timings.formatMs },
        totals: { ...totals },
      };
      for (const l of listeners) l.onBatch?.(event);
    }
    if (failure) break;
  }
  if (!failure) {
    await writeShardHeaders();
    for (const r of o.sinks.rows ?? []) await r.finish();
  }
  const final = stats(failure === null);
  for (const l of listeners) l.onEnd?.(final);
  return { stats: final, failure };
}
