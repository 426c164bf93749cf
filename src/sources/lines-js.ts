/**
 * The `lines` packer in JavaScript: one Buffer.indexOf and one copyWithin per
 * line. The twin of the WebAssembly packer (wasm/lines.c) and its fallback,
 * and the loop that packer hands stretches of long lines to.
 */
import type { RecordBatch, RecordError } from './record-reader.js';
import { tooLongMessage } from './record-limit.js';

const LF = 10;
const CR = 13;

/** A chunk being packed in place: what the packers carry from one line to the next. */
export class LinePacking {
  readonly buf: Buffer;
  /** Where the first line starts: after a BOM at file start. */
  readonly start: number;
  readonly maxRecordBytes: number;
  /** The too-long message, made once. */
  readonly message: string;
  /** offsets[k] = end of record k - 1 in buf; offsets[0] = 0. */
  offsets: Uint32Array<ArrayBuffer>;
  readonly errors: RecordError[] = [];
  /** Packed bytes so far: the records are buf[0, w). */
  w = 0;
  /** Records so far. */
  n = 0;

  constructor(chunk: Uint8Array, atFileStart: boolean, maxRecordBytes: number) {
    const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.buf = buf;
    this.start = atFileStart && buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0;
    this.maxRecordBytes = maxRecordBytes;
    this.message = tooLongMessage(maxRecordBytes);
    this.offsets = new Uint32Array(Math.max(16, (buf.length >>> 5) + 2));
  }

  /** Makes room in `offsets` for `records` more records. */
  room(records: number): void {
    const size = this.n + records + 1;
    if (size <= this.offsets.length) return;
    let length = this.offsets.length * 2;
    while (length < size) length *= 2;
    const grown = new Uint32Array(length);
    grown.set(this.offsets);
    this.offsets = grown;
  }

  /** An error record: empty text, so indexes stay aligned. */
  tooLong(local: number): void {
    this.errors.push({ local, line: local + 1, message: this.message });
  }

  batch(): RecordBatch {
    const { buf, w, n } = this;
    return { firstIndex: 0, count: n, text: { bytes: buf.subarray(0, w), offsets: this.offsets.subarray(0, n + 1) }, errors: this.errors, inputBytes: buf.length };
  }
}

/**
 * Packs the lines that start in [pos, limit) (the last may end past limit);
 * returns where the next line starts.
 */
export function packLinesFrom(p: LinePacking, pos: number, limit: number): number {
  const { buf, maxRecordBytes } = p;
  const len = buf.length;
  let w = p.w;
  let n = p.n;
  while (pos < limit) {
    const nl = buf.indexOf(LF, pos);
    const lineEnd = nl < 0 ? len : nl;
    const end = nl >= 0 && lineEnd > pos && buf[lineEnd - 1] === CR ? lineEnd - 1 : lineEnd;
    if (n + 2 > p.offsets.length) {
      p.n = n;
      p.room(1);
    }
    if (end - pos > maxRecordBytes) p.tooLong(n);
    else {
      if (w !== pos) buf.copyWithin(w, pos, end);
      w += end - pos;
    }
    p.offsets[++n] = w;
    pos = lineEnd + 1;
  }
  p.w = w;
  p.n = n;
  return pos;
}

/** The whole chunk through the JavaScript loop. */
export function packLinesInPlaceJs(chunk: Uint8Array, atFileStart: boolean, maxRecordBytes: number): RecordBatch {
  const p = new LinePacking(chunk, atFileStart, maxRecordBytes);
  packLinesFrom(p, p.start, p.buf.length);
  return p.batch();
}
