/**
 * The streaming API for Node pipelines.
 *
 * createRouteStream(moe): a Transform in object mode. Write records (string,
 * Buffer or Uint8Array: one record each, already split); read routed records
 * { index, expert, complexity, confidence } (+ text with includeText) in the
 * same order. Records are packed into batches (batchRecords / batchBytes),
 * one batch is routed while the next is filled, and the stream's
 * backpressure holds: a slow reader stops the writer.
 *
 * routeRecords(moe, source): the same as an async generator over any
 * (async) iterable of records.
 */
import { Transform, type TransformCallback } from 'node:stream';
import type { Backend, BatchRouting, SwitchedMoE } from '../router/switched-moe.js';
import { PackedBuilder } from '../io/packed-builder.js';
import type { PackedBatch } from '../io/packed-batch.js';
import { routePackedBatches } from './batch-pipeline.js';

export interface RoutedRecord {
  /** 0-based position of the record in the stream. */
  index: number;
  expert: number;
  /** Exactly scoreQ16 / 65536. */
  complexity: number;
  confidence: number;
  /** With includeText: the record as a string (UTF-8 decoded). */
  text?: string;
}

export interface RouteStreamOptions {
  backend?: Backend;
  /** Records per routed batch (default 4096). */
  batchRecords?: number;
  /** UTF-8 bytes per routed batch (default 4 MiB). */
  batchBytes?: number;
  includeText?: boolean;
  /** Readable-side buffer in records (default 1024). */
  highWaterMark?: number;
}

export type RecordInput = string | Uint8Array;

const decoder = new TextDecoder();

class Batcher {
  private builder: PackedBuilder;
  constructor(
    private readonly records: number,
    private readonly bytes: number,
  ) {
    this.builder = new PackedBuilder(Math.min(bytes, 1 << 20), Math.min(records, 65536));
  }
  add(r: RecordInput): void {
    if (typeof r === 'string') this.builder.pushString(r);
    else this.builder.push(r, 0, r.length);
  }
  get full(): boolean {
    return this.builder.count >= this.records || this.builder.byteLength >= this.bytes;
  }
  get count(): number {
    return this.builder.count;
  }
  take(): PackedBatch {
    return this.builder.take(Math.min(this.bytes, 1 << 20), Math.min(this.records, 65536));
  }
}

function* results(batch: PackedBatch, r: BatchRouting, first: number, includeText: boolean): Generator<RoutedRecord> {
  for (let i = 0; i < r.count; i++) {
    const rec: RoutedRecord = { index: first + i, expert: r.experts[i], complexity: r.scoresQ16[i] / 65536, confidence: r.confidenceQ16[i] / 65536 };
    if (includeText) rec.text = decoder.decode(batch.bytes.subarray(batch.offsets[i], batch.offsets[i + 1]));
    yield rec;
  }
}

/** Routes an (async) iterable of records, yielding routed records in order; one batch is routed while the next is read. */
export async function* routeRecords(
  moe: SwitchedMoE,
  source: AsyncIterable<RecordInput> | Iterable<RecordInput>,
  options: RouteStreamOptions = {},
): AsyncGenerator<RoutedRecord> {
  const batcher = new Batcher(options.batchRecords ?? 4096, options.batchBytes ?? 4 << 20);
  let first = 0;
  async function* packed(): AsyncGenerator<{ text: PackedBatch; count: number; first: number }> {
    for await (const r of source as AsyncIterable<RecordInput>) {
      batcher.add(r);
      if (batcher.full) {
        const count = batcher.count;
        yield { text: batcher.take(), count, first };
        first += count;
      }
    }
    if (batcher.count > 0) {
      const count = batcher.count;
      yield { text: batcher.take(), count, first };
      first += count;
    }
  }
  for await (const { batch, routing } of routePackedBatches(moe, packed(), options.backend ? { backend: options.backend } : {})) {
    if (routing) yield* results(batch.text, routing, batch.first, options.includeText ?? false);
  }
}

/** A Transform (object mode): records in, routed records out, in order, with backpressure. */
export function createRouteStream(moe: SwitchedMoE, options: RouteStreamOptions = {}): Transform {
  const batcher = new Batcher(options.batchRecords ?? 4096, options.batchBytes ?? 4 << 20);
  const includeText = options.includeText ?? false;
  let next = 0;
  // At most one batch is routed while the next one fills.
  let inflight: Promise<void> | null = null;
  let failure: Error | null = null;

  const dispatch = (stream: Transform): Promise<void> => {
    const count = batcher.count;
    const batch = batcher.take();
    const first = next;
    next += count;
    const previous = inflight ?? Promise.resolve();
    const p = previous.then(async () => {
      const r = await moe.routeBatch(batch, options.backend ? { backend: options.backend } : {});
      for (const rec of results(batch, r, first, includeText)) stream.push(rec);
    });
    p.catch((err: unknown) => {
      failure ??= err as Error;
    });
    inflight = p;
    return previous;
  };

  return new Transform({
    objectMode: true,
    highWaterMark: options.highWaterMark ?? 1024,
    transform(this: Transform, chunk: RecordInput, _enc: BufferEncoding, callback: TransformCallback) {
      if (failure) return callback(failure);
      if (typeof chunk !== 'string' && !(chunk instanceof Uint8Array)) {
        return callback(new TypeError('createRouteStream takes strings, Buffers or Uint8Arrays, one record each'));
      }
      batcher.add(chunk);
      if (!batcher.full) return callback();
      // wait for the batch before the one just dispatched: two batches at most are held
      dispatch(this).then(
        () => callback(failure ?? undefined),
        (err: unknown) => callback(err as Error),
      );
    },
    flush(this: Transform, callback: TransformCallback) {
      if (batcher.count > 0) dispatch(this);
      (inflight ?? Promise.resolve()).then(
        () => callback(failure ?? undefined),
        (err: unknown) => callback(err as Error),
      );
    },
  });
}
