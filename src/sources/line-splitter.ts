/**
 * Splits a byte stream into lines without creating JS strings. A line ends
 * at LF; a CR right before the LF is not part of the line; a last line with
 * no LF is a line; a trailing LF does not start an extra empty line. Lines
 * longer than a chunk are gathered from the chunks they span and handed over
 * as parts so they are copied only once.
 *
 * A line longer than `maxLineBytes` is reported (tooLong) as soon as it
 * grows past the limit, not when it ends: an input without LF (/dev/zero)
 * must not fill memory. Its bytes are dropped up to the next LF, where
 * splitting resumes.
 */
export interface LineSink {
  /** A line held in one buffer: buf[start, end). */
  line(buf: Uint8Array, start: number, end: number): void;
  /** A line spanning chunks: the first `length` bytes of the concatenated parts. */
  longLine(parts: readonly Uint8Array[], length: number): void;
  /** A line longer than maxLineBytes: its bytes are dropped (needed only when a limit is set). */
  tooLong?(): void;
}

const LF = 10;
const CR = 13;

export class LineSplitter {
  private parts: Uint8Array[] = [];
  private partsLength = 0;
  /** Dropping the rest of a line that was too long, up to its LF. */
  private skipping = false;

  constructor(private readonly maxLineBytes: number = Number.POSITIVE_INFINITY) {}

  /** Bytes of the unfinished last line held so far. */
  get pendingBytes(): number {
    return this.partsLength;
  }

  push(chunk: Uint8Array, sink: LineSink): void {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let start = 0;
    let nl = buf.indexOf(LF, 0);
    if (this.skipping) {
      if (nl < 0) return;
      this.skipping = false;
      start = nl + 1;
      nl = buf.indexOf(LF, start);
    } else if (nl >= 0 && this.partsLength > 0) {
      // finish the line that started in an earlier chunk
      this.parts.push(buf.subarray(0, nl));
      const total = this.partsLength + nl;
      const lastByte = nl > 0 ? buf[nl - 1] : lastByteOf(this.parts, 1);
      const length = lastByte === CR ? total - 1 : total;
      if (length > this.maxLineBytes) this.tooLong(sink);
      else sink.longLine(this.parts, length);
      this.parts = [];
      this.partsLength = 0;
      start = nl + 1;
      nl = buf.indexOf(LF, start);
    }
    while (nl >= 0) {
      const end = nl > start && buf[nl - 1] === CR ? nl - 1 : nl;
      if (end - start > this.maxLineBytes) this.tooLong(sink);
      else sink.line(buf, start, end);
      start = nl + 1;
      nl = buf.indexOf(LF, start);
    }
    if (start < buf.length) {
      // A CR at the end may still be dropped before an LF, hence the + 1.
      if (this.partsLength + (buf.length - start) > this.maxLineBytes + 1) {
        this.tooLong(sink);
        this.skipping = true;
        return;
      }
      // keep a copy: the caller may reuse its chunk buffer
      const rest = Uint8Array.prototype.slice.call(buf, start) as Uint8Array;
      this.parts.push(rest);
      this.partsLength += rest.length;
    }
  }

  private tooLong(sink: LineSink): void {
    this.parts = [];
    this.partsLength = 0;
    if (!sink.tooLong) throw new RangeError(`a line is longer than ${this.maxLineBytes} bytes`);
    sink.tooLong();
  }

  /** End of input: the last line, if it had no LF. */
  end(sink: LineSink): void {
    this.skipping = false;
    if (this.partsLength > this.maxLineBytes) this.tooLong(sink);
    else if (this.partsLength > 0) {
      if (this.parts.length === 1) sink.line(this.parts[0], 0, this.partsLength);
      else sink.longLine(this.parts, this.partsLength);
    }
    this.parts = [];
    this.partsLength = 0;
  }
}

/** The last byte of parts, ignoring the newest `skipFromEnd` parts (-1 if none). */
function lastByteOf(parts: readonly Uint8Array[], skipFromEnd: number): number {
  for (let i = parts.length - 1 - skipFromEnd; i >= 0; i--) {
    const p = parts[i];
    if (p.length > 0) return p[p.length - 1];
  }
  return -1;
}
