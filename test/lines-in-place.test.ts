/** The workers' in-place `lines` packer gives exactly RecordReader's records, errors and messages. */
import { describe, expect, it } from 'vitest';
import { packLinesInPlace } from '../src/sources/lines-in-place.js';
import { RecordReader, type RecordBatch } from '../src/sources/record-reader.js';
import { rng } from './helpers/random.js';

async function viaReader(bytes: Uint8Array, atFileStart: boolean, max: number): Promise<RecordBatch[]> {
  const reader = new RecordReader({ format: 'lines', file: 'x', batchBytes: 1 << 30, batchRecords: 1 << 30, keepRaw: false, atFileStart, maxRecordBytes: max });
  const out: RecordBatch[] = [];
  for await (const b of reader.batches((async function* () {
    yield bytes.slice();
  })()))
    out.push(b);
  return out;
}

function records(b: RecordBatch): string[] {
  return Array.from({ length: b.count }, (_, i) => Buffer.from(b.text.bytes.subarray(b.text.offsets[i], b.text.offsets[i + 1])).toString('latin1'));
}

describe('packLinesInPlace', () => {
  it('equals RecordReader on CR, CRLF, empty lines, a missing last LF, a BOM, NUL and invalid UTF-8, and over-long lines', async () => {
    const rand = rng(11);
    const pieces = ['a', 'b\r', '\r', '', '\u0000', '\xff\xfe', 'long'.repeat(30), ' ', '\r\r'];
    for (let trial = 0; trial < 300; trial++) {
      const lines = Array.from({ length: Math.floor(rand() * 12) }, () => Array.from({ length: Math.floor(rand() * 4) }, () => pieces[Math.floor(rand() * pieces.length)]).join(''));
      let text = lines.join('\n') + (rand() < 0.5 ? '\n' : '');
      if (rand() < 0.2) text = '\xef\xbb\xbf' + text;
      const bytes = Buffer.from(text, 'latin1');
      const atFileStart = rand() < 0.5;
      const max = rand() < 0.3 ? 50 : 1 << 20;
      const expected = await viaReader(bytes, atFileStart, max);
      const got = packLinesInPlace(Uint8Array.from(bytes), atFileStart, max);
      const want = expected[0] ?? { count: 0, errors: [], text: { bytes: new Uint8Array(0), offsets: new Uint32Array(1) } };
      expect(got.count).toBe(want.count);
      expect(records(got)).toEqual(records(want as RecordBatch));
      expect(got.errors).toEqual(want.errors);
      expect(got.inputBytes).toBe(bytes.length);
    }
  });
});
