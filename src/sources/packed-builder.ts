/**
 * Growable builder of a PackedBatch (UTF-8 bytes + n + 1 u32 offsets).
 * Records are copied in as byte ranges, never through JS strings.
 */
import { ConfigError } from '../errors.js';
import { MAX_PACKED_BYTES, type PackedBatch } from '../model/packed-batch.js';

const encoder = new TextEncoder();

export class PackedBuilder {
  private bytes: Uint8Array;
  private offsets: Uint32Array;
  private n = 0;
  private len = 0;

  constructor(byteCapacity: number, recordCapacity: number) {
    this.bytes = new Uint8Array(Math.max(16, byteCapacity));
    this.offsets = new Uint32Array(Math.max(2, recordCapacity + 1));
  }

  get count(): number {
    return this.n;
  }

  get byteLength(): number {
    return this.len;
  }

  private reserve(extraBytes: number): void {
    if (this.n + 2 > this.offsets.length) {
      const next = new Uint32Array(this.offsets.length * 2);
      next.set(this.offsets.subarray(0, this.n + 1));
      this.offsets = next;
    }
    const need = this.len + extraBytes;
    if (need > MAX_PACKED_BYTES) {
      // Only a single record of 4 GiB or more gets here: batches are flushed long before.
      throw new ConfigError(`a record of ${need - this.len} bytes or more cannot be routed: one batch, and so one record, holds at most ${MAX_PACKED_BYTES} bytes`);
    }
    if (need > this.bytes.length) {
      const next = new Uint8Array(Math.min(MAX_PACKED_BYTES, Math.max(need, this.bytes.length * 2)));
      next.set(this.bytes.subarray(0, this.len));
      this.bytes = next;
    }
  }

  /** Appends src[start, end) as one record. */
  push(src: Uint8Array, start: number, end: number): void {
    const size = end - start;
    this.reserve(size);
    if (size < 48) {
      // short records: a loop is cheaper than allocating a subarray view per record
      const dst = this.bytes;
      let at = this.len;
      for (let i = start; i < end; i++) dst[at++] = src[i];
    } else {
      this.bytes.set(src.subarray(start, end), this.len);
    }
    this.len += size;
    this.offsets[++this.n] = this.len;
  }

  /** Appends the concatenation of parts, limited to `total` bytes, as one record. */
  pushParts(parts: readonly Uint8Array[], total: number): void {
    this.reserve(total);
    let left = total;
    for (const p of parts) {
      if (left <= 0) break;
      const take = Math.min(left, p.length);
      this.bytes.set(take === p.length ? p : p.subarray(0, take), this.len);
      this.len += take;
      left -= take;
    }
    this.offsets[++this.n] = this.len;
  }

  pushString(text: string): void {
    const size = Buffer.byteLength(text, 'utf8');
    this.reserve(size);
    encoder.encodeInto(text, this.bytes.subarray(this.len, this.len + size));
    this.len += size;
    this.offsets[++this.n] = this.len;
  }

  pushEmpty(): void {
    this.reserve(0);
    this.offsets[++this.n] = this.len;
  }

  /** Returns the batch built so far (views, trimmed) and starts a fresh one of the same capacity. */
  take(byteCapacity: number, recordCapacity: number): PackedBatch {
    const out: PackedBatch = { bytes: this.bytes.subarray(0, this.len), offsets: this.offsets.subarray(0, this.n + 1) };
    this.bytes = new Uint8Array(Math.max(16, byteCapacity));
    this.offsets = new Uint32Array(Math.max(2, recordCapacity + 1));
    this.n = 0;
    this.len = 0;
    return out;
  }
}
