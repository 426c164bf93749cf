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
 *
 * Records with ids: give `text: (record) => string | Uint8Array` and write
 * any objects ({ id, text }, a row...); each routed record then carries the
 * original as `record`, so nothing has to be zipped back by index.
 */
import { Transform, type TransformCallback } from 'node:stream';
import type { Backend, BatchRouting, SwitchedMoE } from '../router/switched-moe.js';
import { PackedBuilder } from '../sources/packed-builder.js';
import type { PackedBatch } from '../model/packed-batch.js';
import { routePackedBatches } from './batch-pipeline.js';
import { routeWithFallback } from './route-job.js';
import { ConfigError, checkOptionsObject, describeValue } from '../errors.js';
import { recordText } from '../sinks/output-format.js';

export interface RoutedRecord<T = RecordInput> {
  /** 0-based position of the record in the stream. */
  index: number;
  expert: number;
  /** Exactly scoreQ16 / 65536. */
  complexity: number;
  confidence: number;
  /** With includeText: the record as a string (UTF-8 decoded; a leading U+FEFF is kept). */
  text?: string;
  /** With the `text` accessor: the record as it was written (its id and everything else). */
  record?: T;
}

export interface RouteStreamOptions<T = RecordInput> {
  /** The text of a record that is not itself a string or bytes: `(r) => r.text`. Routed records then carry `record`. */
  text?: (record: T) => RecordInput;
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

class Batcher<T> {
  private builder: PackedBuilder;
  /** The records as written, when a `text` accessor is given (they go back out with their results). */
  originals: T[] = [];
  constructor(
    private readonly records: number,
    private readonly bytes: number,
    private readonly accessor: ((record: T) => RecordInput) | undefined,
  ) {
    this.builder = new PackedBuilder(Math.min(bytes, 1 << 20), Math.min(records, 65536));
  }
  /** Adds record `index` (its position in the stream, for the message if it is not a record). */
  add(value: T, index: number): void {
    let r: unknown = value;
    if (this.accessor) {
      try {
        r = this.accessor(value);
      } catch (err) {
        throw new ConfigError(`the text accessor failed on record ${index}: ${(err as Error).message}`);
      }
    }
    if (typeof r === 'string') this.builder.pushString(r);
    else if (r instanceof Uint8Array) this.builder.push(r, 0, r.length);
    else throw notARecord(r, index, this.accessor !== undefined);
    if (this.accessor) this.originals.push(value);
  }
  get full(): boolean {
    return this.builder.count >= this.records || this.builder.byteLength >= this.bytes;
  }
  get count(): number {
    return this.builder.count;
  }
  take(): { packed: PackedBatch; originals: T[] } {
    const originals = this.originals;
    this.originals = [];
    return { packed: this.builder.take(Math.min(this.bytes, 1 << 20), Math.min(this.records, 65536)), originals };
  }
}

/** The same ConfigError (code CONFIG) from routeRecords and createRouteStream, whatever the backend. */
function notARecord(value: unknown, index: number, viaAccessor: boolean): ConfigError {
  return new ConfigError(
    viaAccessor
      ? `the text accessor gave ${describeValue(value)} for record ${index}, not a string, Buffer or Uint8Array`
      : `record ${index} is ${describeValue(value)}, not a string, Buffer or Uint8Array (routeRecords and createRouteStream take strings, Buffers or Uint8Arrays, one record each; for objects give a text accessor: { text: (r) => r.text })`,
  );
}

function* results<T>(batch: PackedBatch, originals: readonly T[], r: BatchRouting, first: number, includeText: boolean): Generator<RoutedRecord<T>> {
  for (let i = 0; i < r.count; i++) {
    const rec: RoutedRecord<T> = { index: first + i, expert: r.experts[i], complexity: r.scoresQ16[i] / 65536, confidence: r.confidenceQ16[i] / 65536 };
    if (includeText) rec.text = recordText(batch.bytes.subarray(batch.offsets[i], batch.offsets[i + 1]));
    if (originals.length > 0) rec.record = originals[i];
    yield rec;
  }
}

/** Routes an (async) iterable of records, yielding routed records in order; one batch is routed while the next is read. */
export async function* routeRecords<T = RecordInput>(
  moe: SwitchedMoE,
  source: AsyncIterable<T> | Iterable<T>,
  options: RouteStreamOptions<T> = {},
): AsyncGenerator<RoutedRecord<T>> {
  checkOptionsObject(options, 'routeRecords');
  const iterable =
    source !== null && typeof source === 'object' && (Symbol.asyncIterator in source || Symbol.iterator in source);
  // a string is iterable too, by characters: routing those as records would be silently wrong
  if (!iterable) throw new ConfigError(`routeRecords takes an iterable or async iterable of records, got ${describeValue(source)}`);
  if (options.text !== undefined && typeof options.text !== 'function') throw new ConfigError(`routeRecords option text must be a function (record) => string | Uint8Array, got ${describeValue(options.text)}`);
  const batcher = new Batcher<T>(options.batchRecords ?? 4096, options.batchBytes ?? 4 << 20, options.text);
  let first = 0;
  async function* packed(): AsyncGenerator<{ text: PackedBatch; originals: T[]; count: number; first: number }> {
    for await (const r of source as AsyncIterable<T>) {
      batcher.add(r, first + batcher.count);
      if (batcher.full) {
        const count = batcher.count;
        const { packed, originals } = batcher.take();
        yield { text: packed, originals, count, first };
        first += count;
      }
    }
    if (batcher.count > 0) {
      const count = batcher.count;
      const { packed, originals } = batcher.take();
      yield { text: packed, originals, count, first };
      first += count;
    }
  }
  for await (const { batch, routing } of routePackedBatches(moe, packed(), options.backend ? { backend: options.backend } : {})) {
    if (routing) yield* results(batch.text, batch.originals, routing, batch.first, options.includeText ?? false);
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
export class RouteStream<T = RecordInput> extends Transform {
  private readonly batcher: Batcher<T>;
  private readonly includeText: boolean;
  private next = 0;
  /** The last dispatched batch (at most one is routed while the next one fills). */
  private inflight: Promise<void> = Promise.resolve();
  private failure: Error | null = null;
  private waiters: (() => void)[] = [];
  private readonly route: (batch: PackedBatch) => Promise<BatchRouting>;

  constructor(
    moe: SwitchedMoE,
    options: RouteStreamOptions<T>,
  ) {
    super({ objectMode: true, highWaterMark: options.highWaterMark ?? 1024 });
    this.batcher = new Batcher<T>(options.batchRecords ?? 4096, options.batchBytes ?? 4 << 20, options.text);
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
    const { packed: batch, originals } = this.batcher.take();
    const first = this.next;
    this.next += count;
    const previous = this.inflight;
    const p = previous.then(async () => {
      const r = await this.route(batch);
      for (const rec of results(batch, originals, r, first, this.includeText)) this.push(rec);
    });
    p.catch((err: unknown) => {
      this.failure ??= err as Error;
    });
    this.inflight = p.catch(() => undefined);
    return previous;
  }

  /** Routed records, typed: `for await (const r of stream)`. */
  override [Symbol.asyncIterator](): AsyncIterableIterator<RoutedRecord<T>> {
    return super[Symbol.asyncIterator]() as AsyncIterableIterator<RoutedRecord<T>>;
  }

  override _transform(chunk: T, _enc: BufferEncoding, callback: TransformCallback): void {
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
export function createRouteStream<T = RecordInput>(moe: SwitchedMoE, options: RouteStreamOptions<T> = {}): RouteStream<T> {
  checkOptionsObject(options, 'createRouteStream');
  if (options.text !== undefined && typeof options.text !== 'function') throw new ConfigError(`createRouteStream option text must be a function (record) => string | Uint8Array, got ${describeValue(options.text)}`);
  return new RouteStream<T>(moe, options);
}
