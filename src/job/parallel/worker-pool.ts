/**
 * The parallel producer of the route job. N workers read their byte ranges
 * of a regular file (or take the chunks of whole lines the main thread cuts
 * from a stream), parse, route and format them; on a hardware GPU the main
 * thread routes their chunks. The job writes the formatted batches in input
 * order and their output buffers go back to the worker that made them. The
 * main thread keeps at most N + 1 chunks in flight, so memory stays within
 * about (N + 2) x chunk size plus their outputs.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Worker } from 'node:worker_threads';
import { ConfigError } from '../../errors.js';
import type { BatchRoutingInfo, FormattedBatch } from '../formatted-batch.js';
import type { PackedBatch } from '../../model/packed-batch.js';
import { POOLED_PART_BYTES, type FromWorker, type ToWorker, type WorkerInit } from './protocol.js';
import { lineAlignedChunks } from '../../sources/rechunk.js';
import { WarmWorkers } from './warm-workers.js';
import type { PositionedFile } from '../../sources/line-ranges.js';

/** Where the chunks come from: a stream the main thread cuts into whole lines, or a file the workers read. */
export type ChunkFeed = { kind: 'stream'; source: AsyncIterable<Uint8Array> } | { kind: 'file'; file: PositionedFile };

export interface ParallelOptions extends Omit<WorkerInit, 'fd' | 'kernel'> {
  kernel: 'cpu' | 'cpu-reference';
  threads: number;
  /** Target chunk size in bytes (default 4 MiB). */
  chunkBytes?: number;
  /** Global index and 1-based line of the first record (a --shard part). */
  firstIndex: number;
  firstLine: number;
  /**
   * Routes a chunk's text on the main thread (the GPU): the workers read, parse and format, the
   * main thread only drives the device. Unset: the workers route with `kernel`.
   */
  route?: (text: PackedBatch) => Promise<BatchRoutingInfo>;
  /** Turns a worker's failed read into the error the caller reports (it knows the input's name). */
  readError?: (err: NodeJS.ErrnoException) => Error;
}


/**
 * The outputs the workers send are dead once written, but V8 collects
 * ArrayBuffers only after external memory has grown by tens of MiB: a full
 * collection every few chunks keeps that garbage small.
 */
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as (options?: { type: 'minor' | 'major' }) => void;
const COLLECT_EVERY_BYTES = 64 << 20;
let sinceCollect = 0;
/** A full collection every 64 MiB written (the output buffers go back to the workers; what is left is small). */
const collect = (b: FormattedBatch): void => {
  sinceCollect += b.inputBytes;
  if (sinceCollect < COLLECT_EVERY_BYTES) return;
  sinceCollect = 0;
  gc({ type: 'major' });
};

interface Pending {
  counted: { records: number; lines: number } | null;
  done: FormattedBatch[] | null;
  eof: boolean;
  worker: Worker;
  settle: (() => void) | null;
  error: Error | null;
}

function rebuildError(m: Extract<FromWorker, { type: 'failed' }>, readError: ParallelOptions['readError']): Error {
  // Errors the user can act on keep their type; anything else is a bug with its stack.
  if (m.name === 'ConfigError') return new ConfigError(m.message);
  if (m.code !== undefined) {
    // a failed read of the file (EIO, ...): the system error, for the caller to name the input
    const e: NodeJS.ErrnoException = Object.assign(new Error(m.message), { code: m.code });
    return readError ? readError(e) : e;
  }
  const e = new Error(`in a chunk worker: ${m.message}`);
  if (m.stack) e.stack = m.stack;
  return e;
}

const startWorkers = (count: number): WarmWorkers => new WarmWorkers(count);

export async function* parallelBatches(feed: ChunkFeed, o: ParallelOptions, warm?: WarmWorkers): AsyncGenerator<FormattedBatch> {
  const init: WorkerInit = {
    config: o.config,
    format: o.format,
    ...(o.field !== undefined ? { field: o.field } : {}),
    file: o.file,
    spec: o.spec,
    onError: o.onError,
    keepForListeners: o.keepForListeners,
    kernel: o.route ? 'main' : o.kernel,
    maxRecordBytes: o.maxRecordBytes,
    atFileStart: o.atFileStart,
    batchRecords: o.batchRecords,
    ...(feed.kind === 'file' ? { fd: feed.file.fd } : {}),
  };
  const workers = warm?.take(Math.max(1, o.threads)) ?? startWorkers(Math.max(1, o.threads)).take(Math.max(1, o.threads));
  if (!workers) throw new Error('no chunk workers');
  for (const w of workers) w.postMessage({ type: 'init', init } satisfies ToWorker);
  const pending = new Map<number, Pending>();
  // Bases are handed out in order, as soon as every earlier chunk is counted.
  let nextBase = 0;
  let base = { firstIndex: o.firstIndex, firstLine: o.firstLine };
  const sendBases = (): void => {
    for (;;) {
      const p = pending.get(nextBase);
      if (!p || !p.counted) return;
      p.worker.postMessage({ type: 'base', seq: nextBase, ...base } satisfies ToWorker);
      base = { firstIndex: base.firstIndex + p.counted.records, firstLine: base.firstLine + p.counted.lines };
      nextBase++;
    }
  };
  let crashed: Error | null = null;
  const routeOnMain = (w: Worker, seq: number, text: PackedBatch, p: Pending): void => {
    const route = o.route as NonNullable<ParallelOptions['route']>;
    route(text).then(
      (r) => {
        // Only what the worker formats from, and its own text back: all transferred, none copied.
        const routing: BatchRoutingInfo = {
          experts: r.experts,
          scoresQ16: r.scoresQ16,
          confidenceQ16: r.confidenceQ16,
          ...(r.stats ? { stats: r.stats } : {}),
          backend: r.backend,
          adapter: r.adapter,
          fallback: r.fallback,
          routeMs: r.routeMs,
        };
        const transfer = [r.experts, r.scoresQ16, r.confidenceQ16, ...(r.stats ? [r.stats] : []), text.bytes, text.offsets].map((a) => a.buffer as ArrayBuffer);
        w.postMessage({ type: 'routed', seq, routing, text } satisfies ToWorker, [...new Set(transfer)]);
      },
      (err: unknown) => {
        p.error = err instanceof Error ? err : new Error(String(err));
        p.settle?.();
      },
    );
  };
  for (const w of workers) {
    w.on('message', (m: FromWorker) => {
      const p = pending.get(m.seq);
      if (!p) return;
      if (m.type === 'counted') {
        p.counted = { records: m.records, lines: m.lines };
        sendBases();
      } else if (m.type === 'route') {
        routeOnMain(w, m.seq, m.text, p);
        return;
      } else if (m.type === 'done') {
        p.done = m.batches;
        p.eof = m.eof;
      } else {
        p.error = rebuildError(m, o.readError);
      }
      if (m.type !== 'counted') p.settle?.();
    });
    w.on('error', (err: Error) => {
      crashed = err;
      for (const p of pending.values()) p.settle?.();
    });
  }
  let lastEof = false;
  /** The worker that formatted each chunk handed out, for its buffers to go back to it once written. */
  const madeBy = new WeakMap<FormattedBatch[], Worker>();
  const result = async (seq: number): Promise<FormattedBatch[]> => {
    const p = pending.get(seq) as Pending;
    if (!p.done && !p.error && !crashed) await new Promise<void>((resolve) => (p.settle = resolve));
    pending.delete(seq);
    if (p.error) throw p.error;
    if (crashed) throw crashed;
    lastEof = p.eof;
    const batches = p.done as FormattedBatch[];
    madeBy.set(batches, p.worker);
    return batches;
  };
  /** Called once the consumer has written every batch of a chunk (ByteWriter's contract): its batches may share an output buffer. */
  const recycle = (batches: FormattedBatch[]): void => {
    const w = madeBy.get(batches);
    const buffers = [...new Set(batches.flatMap((b) => b.output.map((part) => part.buffer as ArrayBuffer)))].filter((a) => a.byteLength === POOLED_PART_BYTES);
    if (!w || buffers.length === 0) return;
    for (const b of batches) b.output = [];
    w.postMessage({ type: 'recycle', buffers } satisfies ToWorker, buffers);
  };

  // One chunk per worker plus the one being written: more buys no speed, only memory.
  const maxInFlight = workers.length + 1;
  const chunkBytes = o.chunkBytes ?? 4 << 20;
  let seq = 0;
  let next = 0;
  let bytesRead = 0;
  const send = (m: ToWorker, transfer: ArrayBuffer[]): void => {
    const worker = workers[seq % workers.length];
    pending.set(seq, { counted: null, done: null, eof: false, worker, settle: null, error: null });
    worker.postMessage(m, transfer);
    seq++;
  };
  /**
   * The next chunk's batches in input order, handed to the job (unless it is a range past the end of
   * the file, which holds nothing); once the job asks for more after the last one, and so has written
   * them all, their output buffers go back to their worker.
   */
  async function* handOut(): AsyncGenerator<FormattedBatch> {
    const batches = await result(next++);
    for (const b of batches) {
      bytesRead += b.inputBytes;
      if (b.records > 0 || b.inputBytes > 0 || b.failure !== null) yield b;
      collect(b);
    }
    recycle(batches);
  }
  try {
    // Reading stops once a chunk failed (a bad record with onError 'fail', or an error): its result ends the run.
    const failed = (): boolean => crashed !== null || [...pending.values()].some((p) => p.error !== null || (p.done?.some((b) => b.failure !== null) ?? false));
    const chunks = feed.kind === 'stream' ? lineAlignedChunks(feed.source, chunkBytes, o.maxRecordBytes, failed) : null;
    if (chunks) {
      for await (const { bytes, skippedBytes } of chunks) {
        send({ type: 'chunk', seq, bytes, skippedBytes }, [bytes.buffer as ArrayBuffer]);
        while (seq - next >= maxInFlight) {
          yield* handOut();
        }
      }
    } else if (feed.kind === 'file') {
      const file = feed.file;
      const limit = file.end ?? Infinity;
      let pos = file.start;
      let planned = file.end ?? file.size();
      for (;;) {
        while (pos < planned && !failed()) {
          send({ type: 'range', seq, range: { start: pos, end: pos + chunkBytes, inputStart: file.start, limit } }, []);
          pos += chunkBytes;
          while (seq - next >= maxInFlight) {
            yield* handOut();
          }
        }
        if (file.end !== null || failed()) break;
        // The whole file: read on, a range at a time, until a range meets its real end (it may have grown).
        while (next < seq) {
          yield* handOut();
        }
        if (lastEof || failed()) break;
        planned = Math.max(file.size(), pos + 1);
      }
    }
    while (next < seq) {
      yield* handOut();
    }
    if (feed.kind === 'file') feed.file.finish(bytesRead);
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
    if (feed.kind === 'file') await feed.file.close();
  }
}
