/**
 * --batch-records for the chunk workers: a chunk is cut by bytes, so on short
 * lines it can hold more records than the user allows in a batch. The worker
 * routes the chunk whole (the results are the same) and formats and reports it
 * in pieces of at most that many records, so that every batch the job and its
 * listeners see keeps the limit, whichever path produced it.
 */
import { STATS_STRIDE } from '../model/complexity-model.js';
import type { PackedBatch } from '../model/packed-batch.js';
import type { RecordBatch } from '../sources/record-reader.js';
import type { BatchRoutingInfo } from './formatted-batch.js';

export interface BatchPiece {
  batch: RecordBatch;
  /** null when the chunk had nothing to route (every record an error). */
  routing: BatchRoutingInfo | null;
}

/** The same records, the same byte buffers: offsets stay absolute, so a piece's offsets are a view of the chunk's. */
function textPiece(t: PackedBatch, from: number, to: number): PackedBatch {
  return { bytes: t.bytes, offsets: t.offsets.subarray(from, to + 1) };
}

/**
 * Records [from, to) of each piece, at most `maxRecords` each. A piece's inputBytes is its records'
 * bytes and line ends (capped by what is left), the last piece takes the rest, so the pieces add up to
 * the chunk's exactly; routeMs is shared by records. A chunk within the limit is returned as it is.
 */
export function batchPieces(batch: RecordBatch, routing: BatchRoutingInfo | null, maxRecords: number): BatchPiece[] {
  const size = Math.max(1, Math.floor(maxRecords));
  if (batch.count <= size) return [{ batch, routing }];
  const pieces: BatchPiece[] = [];
  const spans = batch.raw ?? batch.text;
  let inputLeft = batch.inputBytes;
  let nextError = 0;
  for (let from = 0; from < batch.count; from += size) {
    const to = Math.min(batch.count, from + size);
    const errors = [];
    while (nextError < batch.errors.length && batch.errors[nextError].local < to) {
      const e = batch.errors[nextError++];
      errors.push({ ...e, local: e.local - from });
    }
    const last = to === batch.count;
    const inputBytes = last ? inputLeft : Math.min(inputLeft, spans.offsets[to] - spans.offsets[from] + (to - from));
    inputLeft -= inputBytes;
    pieces.push({
      batch: {
        firstIndex: batch.firstIndex + from,
        count: to - from,
        text: textPiece(batch.text, from, to),
        ...(batch.raw ? { raw: textPiece(batch.raw, from, to) } : {}),
        errors,
        inputBytes,
      },
      routing: routing && {
        ...routing,
        experts: routing.experts.subarray(from, to),
        scoresQ16: routing.scoresQ16.subarray(from, to),
        confidenceQ16: routing.confidenceQ16.subarray(from, to),
        ...(routing.stats ? { stats: routing.stats.subarray(from * STATS_STRIDE, to * STATS_STRIDE) } : {}),
        routeMs: (routing.routeMs * (to - from)) / batch.count,
      },
    });
  }
  return pieces;
}

/** A piece's text in buffers of its own (its bytes only, offsets from 0): what a listener is sent, rather than the whole chunk's. */
export function compactText(t: PackedBatch): PackedBatch {
  const base = t.offsets[0];
  const offsets = new Uint32Array(t.offsets.length);
  for (let i = 0; i < offsets.length; i++) offsets[i] = t.offsets[i] - base;
  return { bytes: t.bytes.slice(base, t.offsets[t.offsets.length - 1]), offsets };
}
