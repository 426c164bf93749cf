/**
 * Record batches of the `lines` format for the main thread, with the
 * workers' machinery: chunks of whole lines (a regular file read by ranges,
 * or a stream cut at line ends), each packed in place by the WebAssembly line
 * packer. The same records, indexes, line numbers and errors as RecordReader's
 * `lines`, at a fraction of its cost: on a software GPU adapter the host work
 * runs between the device's dispatches, so it is what limits the run.
 */
import { lineAlignedChunks } from './rechunk.js';
import { LineRangeReader, type PositionedFile } from './line-ranges.js';
import { packLinesInPlace } from './lines-in-place.js';
import type { RecordBatch } from './record-reader.js';

export interface LineChunk {
  /** Whole lines, in memory the batch may keep. */
  bytes: Uint8Array;
  /** Input bytes the chunk stands for. */
  inputBytes: number;
}

/** A regular file's whole lines, range by range (the rule of line-ranges.ts), each in a buffer of its own. */
export async function* fileLineChunks(file: PositionedFile, chunkBytes: number, maxRecordBytes: number): AsyncGenerator<LineChunk> {
  const reader = new LineRangeReader(file.fd, maxRecordBytes);
  let bytesRead = 0;
  try {
    for (let pos = file.start; ; pos += chunkBytes) {
      const got = reader.read({ start: pos, end: pos + chunkBytes, inputStart: file.start, limit: file.end ?? Infinity });
      bytesRead += got.inputBytes;
      if (got.bytes.length > 0 || got.inputBytes > 0) yield { bytes: got.bytes.slice(), inputBytes: got.inputBytes };
      // a part ends where it ends; a whole file once a range meets its real end past the size seen now
      if (file.end !== null ? pos + chunkBytes >= file.end : got.eof && pos + chunkBytes >= file.size()) break;
    }
    file.finish(bytesRead);
  } finally {
    await file.close();
  }
}

/** A stream's whole lines (the main thread's chunker of the parallel path). */
export async function* streamLineChunks(source: AsyncIterable<Uint8Array>, chunkBytes: number, maxRecordBytes: number): AsyncGenerator<LineChunk> {
  for await (const c of lineAlignedChunks(source, chunkBytes, maxRecordBytes, () => false)) yield { bytes: c.bytes, inputBytes: c.bytes.length + c.skippedBytes };
}

export interface PackedLinesOptions {
  /** The first chunk starts the input (a UTF-8 BOM there is skipped). */
  atFileStart: boolean;
  maxRecordBytes: number;
  /** Global index and 1-based line of the first record (a --shard part). */
  firstIndex: number;
  firstLine: number;
}

export async function* packedLineBatches(chunks: AsyncIterable<LineChunk>, o: PackedLinesOptions): AsyncGenerator<RecordBatch> {
  let index = o.firstIndex;
  let line = o.firstLine;
  let first = true;
  for await (const c of chunks) {
    const b = packLinesInPlace(c.bytes, o.atFileStart && first, o.maxRecordBytes);
    first = false;
    b.firstIndex = index;
    b.inputBytes = c.inputBytes;
    for (const e of b.errors) e.line += line - 1;
    index += b.count;
    line += b.count;
    yield b;
  }
}
