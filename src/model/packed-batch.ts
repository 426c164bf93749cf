/**
 * The packed form of a batch of strings, Arrow-style: one UTF-8 byte buffer
 * and n + 1 offsets, string i being bytes[offsets[i], offsets[i + 1]).
 * Pipelines that already hold bytes route this without creating JS strings.
 */
import { ConfigError, describeValue } from '../errors.js';

export interface PackedBatch {
  bytes: Uint8Array;
  offsets: Uint32Array;
}

const encoder = new TextEncoder();

/** Largest batch the u32 offsets can address. */
export const MAX_PACKED_BYTES = 0xffff_ffff;

export function packStrings(texts: readonly string[]): PackedBatch {
  const offsets = new Uint32Array(texts.length + 1);
  let total = 0;
  for (let i = 0; i < texts.length; i++) {
    if (typeof texts[i] !== 'string') throw new ConfigError(`texts[${i}] is ${describeValue(texts[i])}, not a string`);
    total += Buffer.byteLength(texts[i], 'utf8');
    if (total > MAX_PACKED_BYTES) {
      throw new ConfigError(`a batch holds at most ${MAX_PACKED_BYTES} bytes of UTF-8; split it (string ${i} crosses the limit)`);
    }
    offsets[i + 1] = total;
  }
  const bytes = new Uint8Array(total);
  for (let i = 0; i < texts.length; i++) {
    // encodeInto writes straight into the shared buffer: no per-string allocation.
    encoder.encodeInto(texts[i], bytes.subarray(offsets[i], offsets[i + 1]));
  }
  return { bytes, offsets };
}

export function batchSize(batch: PackedBatch): number {
  return batch.offsets.length - 1;
}

/** Checks offsets are monotone and inside bytes; throws ConfigError naming the first bad one. */
export function validatePackedBatch(batch: PackedBatch): void {
  if (batch === null || typeof batch !== 'object') {
    throw new ConfigError(`a packed batch is { bytes: Uint8Array, offsets: Uint32Array }, got ${describeValue(batch)}`);
  }
  const { bytes, offsets } = batch;
  if (!(bytes instanceof Uint8Array) || !(offsets instanceof Uint32Array)) {
    throw new ConfigError(`a packed batch is { bytes: Uint8Array, offsets: Uint32Array }, got bytes: ${describeValue(bytes)}, offsets: ${describeValue(offsets)}`);
  }
  if (offsets.length < 1) throw new ConfigError('offsets must hold n + 1 entries (at least one)');
  for (let i = 1; i < offsets.length; i++) {
    if (offsets[i] < offsets[i - 1]) {
      throw new ConfigError(`offsets must not decrease: offsets[${i - 1}] = ${offsets[i - 1]} > offsets[${i}] = ${offsets[i]}`);
    }
  }
  if (offsets[offsets.length - 1] > bytes.length) {
    throw new ConfigError(`offsets end at ${offsets[offsets.length - 1]} but bytes has only ${bytes.length}`);
  }
}
