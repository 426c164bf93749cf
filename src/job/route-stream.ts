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
import { PackedBuilder } from '../sources/packed-builder.js';
import type { PackedBatch } from '../model/packed-batch.js';
import { routePackedBatches } from './batch-pipeline.js';
import { routeWithFallback } from './route-job.js';
import { ConfigError, checkOptionsObject, describeValue } from '../errors.js';

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
  /** Adds record `index` (its position in the stream, for the message if it is not a record). */
  add(r: RecordInput, index: number): void {
    if (typeof r === 'string') this.builder.pushString(r);
    else if (r instanceof Uint8Array) this.builder.push(r, 0, r.length);
    else throw notARecord(r, index);
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

/** The same ConfigError from routeRecords and createRouteStream, whatever the backend. */
function notARecord(value: unknown, index: number): ConfigError {
  return new ConfigError(
    `record ${index} is ${describeValue(value)}, not a string, Buffer or Uint8Array (routeRecords and createRouteStream take strings, Buffers or Uint8Arrays, one record each)`,
  );
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
  checkOptionsObject(options, 'routeRecords');
  const iterable =
    source !== null && typeof source === 'object' && (Symbol.asyncIterator in source || Symbol.iterator in source);
  // a string is iterable too, by characters: routing those as records would be silently wrong
  if (!iterable) throw new ConfigError(`routeRecords takes an iterable or async iterable of records, got ${describeValue(source)}`);
  const batcher = new Batcher(options.batchRecords ?? 4096, options.batchBytes ?? 4 << 20);
  let first = 0;
  async function* packed(): AsyncGenerator<{ text: PackedBatch; count: number; first: number }> {
    for await (const r of source as AsyncIterable<RecordInput>) {
      batcher.add(r, first + batcher.count);
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

/**
 * The Transform behind createRouteStream. Routed records are pushed when
 * their batch is done, which is outside the write that completed the batch,
 * so Node's own Transform backpressure (which only looks at pushes made
 * during a write) does not see them: a write is therefore held back while the
 * readable side holds highWaterMark records or more, until the reader asks
 * for more (_read).
 */
class RouteStream extends Transform {
  private readonly batcher: Batcher;
  private readonly includeText: boolean;
  private next = 0;
  /** The last dispatched batch (at most one is routed while the next one fills). */
  private inflight: Promise<void> = Promise.resolve();
  private failure: Error | null = null;
  private waiters: (() => void)[] = [];
  private readonly route: (batch: PackedBatch) => Promise<BatchRouting>;

  constructor(
    private readonly moe: SwitchedMoE,
    private readonly options: RouteStreamOptions,
  ) {
    super({ objectMode: true, highWaterMark: options.highWaterMark ?? 1024 });
    this.batcher = new Batcher(options.batchRecords ?? 4096, options.batchBytes ?? 4 << 20);
    this.includeText = options.includeText ?? false;
    this.route = routeWithFallback(moe, options.backend ? { backend: options.backend } : {}, { cpuFallbackBatches: 0, deviceLost: false });
  }

  override _read(size: number): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
    super._read(size);
  }

  private room(): Promise<void> {
    if (this.readableLength < this.readableHighWaterMark || this.destroyed) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Starts routing the filled batch after the previous one; resolves when the previous one is pushed. */
  private dispatch(): Promise<void> {
    const count = this.batcher.count;
    const batch = this.batcher.take();
    const first = this.next;
    this.next += count;
    const previous = this.inflight;
    const p = previous.then(async () => {
      const r = await this.route(batch);
      for (const rec of results(batch, r, first, this.includeText)) this.push(rec);
    });
    p.catch((err: unknown) => {
      this.failure ??= err as Error;
    });
    this.inflight = p.catch(() => undefined);
    return previous;
  }

  override _transform(chunk: RecordInput, _enc: BufferEncoding, callback: TransformCallback): void {
    if (this.failure) return callback(this.failure);
    try {
      this.batcher.add(chunk, this.next + this.batcher.count);
    } catch (err) {
      return callback(err as Error);
    }
    if (!this.batcher.full && this.readableLength < this.readableHighWaterMark) return callback();
    const wait = this.batcher.full ? this.dispatch() : Promise.resolve();
    wait
      .then(() => this.room())
      .then(
        () => callback(this.failure ?? undefined),
        (err: unknown) => callback(err as Error),
      );
  }

  override _flush(callback: TransformCallback): void {
    if (this.batcher.count > 0) this.dispatch();
    this.inflight.then(
      () => callback(this.failure ?? undefined),
      (err: unknown) => callback(err as Error),
    );
  }
}

/** A Transform (object mode): records in, routed records out, in order, with backpressure. */
export function createRouteStream(moe: SwitchedMoE, options: RouteStreamOptions = {}): Transform {
  checkOptionsObject(options, 'createRouteStream');
  return new RouteStream(moe, options);
}
