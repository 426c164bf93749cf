/**
 * Whole lines of a byte range of a regular file, read with positioned reads
 * into one reused buffer: how each worker of the parallel path reads its own
 * part of a file, so that the main thread reads nothing.
 *
 * A record belongs to the range its first byte is in. A range [start, end)
 * therefore skips the tail of a line that began before it (unless start is
 * the input's first byte), and reads past `end` to the LF that ends its last
 * record. Ranges that tile the input give every line exactly once, whatever
 * their size: the same rule as the --shard byte ranges (shard-range.ts).
 */
import { readSync } from 'node:fs';

const LF = 10;
/** Piece read while looking for an LF (skipping a line's tail, finishing the last line). */
const PIECE = 1 << 16;

/** A regular file read by ranges (the parallel path's workers, or the main thread in process). */
export interface PositionedFile {
  fd: number;
  /** First byte of the input: 0, or a --shard part's start. */
  start: number;
  /** A --shard part's end; null: the file's real end, however it moves while it is read. */
  end: number | null;
  /** The file's size now. */
  size(): number;
  /** Called once every range is read, with the bytes read (a size change is reported there). */
  finish(bytesRead: number): void;
  /** Closes the file; called whether the run succeeded or not. */
  close(): Promise<void>;
}

export interface LineRange {
  start: number;
  end: number;
  /** First byte of the input (0, or a --shard part's start): a record starts there. */
  inputStart: number;
  /** Reading never goes past this (a --shard part's end; Infinity: the file's real end). */
  limit: number;
}

export interface RangeLines {
  /** Whole lines, from the first record starting in the range to the end of the last (LF included). A view into the reader's buffer, valid until the next read. */
  bytes: Uint8Array;
  /** Bytes of the input in [start, end) that exist: the ranges' inputBytes add up to the bytes read. */
  inputBytes: number;
  /** The file ended before the range's last line did (or before the range did). */
  eof: boolean;
}

export class LineRangeReader {
  private buf: Buffer;

  /**
   * `maxRecordBytes`: a line longer than this is read only up to one byte past
   * it (the record reader then reports it as too long): memory stays bounded
   * on a file with no LF at all.
   */
  constructor(
    private readonly fd: number,
    private readonly maxRecordBytes: number,
    initialBytes = (4 << 20) + PIECE,
  ) {
    this.buf = Buffer.allocUnsafeSlow(initialBytes);
  }

  /**
   * The range's whole lines. With `into`, they are read there (a worker's WebAssembly memory, where
   * they are packed, routed and formatted without another copy) when they fit; else, and without it,
   * into the reader's own buffer. Either way a view, valid until the next read.
   */
  read(r: LineRange, into?: Uint8Array): RangeLines {
    if (!into) return this.readRange(r);
    const own = this.buf;
    this.buf = Buffer.from(into.buffer, into.byteOffset, into.byteLength);
    try {
      return this.readRange(r);
    } finally {
      // a range that outgrew `into` was moved into a buffer of the reader's own, kept for the next ones
      if (this.buf.buffer === into.buffer) this.buf = own;
    }
  }

  private readRange(r: LineRange): RangeLines {
    const end = Math.min(r.end, r.limit);
    let fileEnd = Infinity;
    // 1. Where the first record starts: at `start` only if the byte before it is an LF.
    let first = r.start;
    if (r.start > r.inputStart) {
      first = -1;
      let at = r.start - 1;
      while (at < end) {
        const n = this.readAt(0, Math.min(PIECE, end - at), at);
        if (n === 0) {
          fileEnd = at;
          break;
        }
        const nl = this.buf.subarray(0, n).indexOf(LF);
        if (nl >= 0) {
          first = at + nl + 1;
          break;
        }
        at += n;
      }
      if (first < 0 || first >= end) {
        return { bytes: new Uint8Array(0), inputBytes: Math.max(0, Math.min(end, fileEnd) - r.start), eof: fileEnd !== Infinity };
      }
    }
    // 2. The range's bytes from there.
    this.reserve(end - first + PIECE);
    let got = 0;
    while (first + got < end) {
      const n = this.readAt(got, end - first - got, first + got);
      if (n === 0) {
        fileEnd = first + got;
        break;
      }
      got += n;
    }
    // 3. Past `end`, to the LF that ends the last record, unless the file or the part ended.
    if (fileEnd === Infinity && got > 0 && this.buf[got - 1] !== LF) {
      const lineStart = this.buf.lastIndexOf(LF, got - 1) + 1;
      while (first + got < r.limit) {
        if (got - lineStart > this.maxRecordBytes) {
          // Enough of an over-long line to know it is one; its tail is no range's record.
          got = lineStart + this.maxRecordBytes + 1;
          break;
        }
        this.reserve(got + PIECE);
        const n = this.readAt(got, Math.min(PIECE, r.limit - first - got), first + got);
        if (n === 0) {
          fileEnd = first + got;
          break;
        }
        const nl = this.buf.subarray(got, got + n).indexOf(LF);
        if (nl >= 0) {
          got += nl + 1;
          break;
        }
        got += n;
      }
    }
    return { bytes: new Uint8Array(this.buf.buffer, this.buf.byteOffset, got), inputBytes: Math.max(0, Math.min(end, fileEnd) - r.start), eof: fileEnd !== Infinity };
  }

  /** Reads up to `length` bytes at file position `position` into buf[at..]; 0 at the end of the file. */
  private readAt(at: number, length: number, position: number): number {
    if (length <= 0) return 0;
    return readSync(this.fd, this.buf, at, length, position);
  }

  /** Room for `bytes` bytes, keeping what the buffer holds. */
  private reserve(bytes: number): void {
    if (bytes <= this.buf.length) return;
    const grown = Buffer.allocUnsafeSlow(Math.max(bytes, Math.min(this.buf.length * 2, bytes + (64 << 20))));
    this.buf.copy(grown);
    this.buf = grown;
  }
}
