/**
 * The `lines` format for a chunk of whole lines that the caller owns (a
 * worker's chunk): records are packed in place, each line moved down over the
 * line ends before it with one memmove, so no byte is copied into another
 * buffer and no object is made per line. The same records, errors and
 * messages as RecordReader's `lines` (test/lines-in-place.test.ts).
 */
import type { RecordBatch, RecordError } from './record-reader.js';
import { tooLongMessage } from './record-limit.js';

const LF = 10;
const CR = 13;

export function packLinesInPlace(chunk: Uint8Array, atFileStart: boolean, maxRecordBytes: number): RecordBatch {
  const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  const len = buf.length;
  let offsets = new Uint32Array(Math.max(16, (len >>> 5) + 2));
  const errors: RecordError[] = [];
  let start = atFileStart && len >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0;
  let w = 0;
  let n = 0;
  while (start < len) {
    const nl = buf.indexOf(LF, start);
    const lineEnd = nl < 0 ? len : nl;
    const end = nl >= 0 && lineEnd > start && buf[lineEnd - 1] === CR ? lineEnd - 1 : lineEnd;
    if (n + 2 > offsets.length) {
      const grown = new Uint32Array(offsets.length * 2);
      grown.set(offsets);
      offsets = grown;
    }
    if (end - start > maxRecordBytes) {
      // an error record: empty text, so indexes stay aligned
      errors.push({ local: n, line: n + 1, message: tooLongMessage(maxRecordBytes) });
    } else {
      if (w !== start) buf.copyWithin(w, start, end);
      w += end - start;
    }
    offsets[++n] = w;
    start = lineEnd + 1;
  }
  return { firstIndex: 0, count: n, text: { bytes: buf.subarray(0, w), offsets: offsets.subarray(0, n + 1) }, errors, inputBytes: len };
}
