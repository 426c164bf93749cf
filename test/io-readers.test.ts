/** Record readers at every chunk boundary: the same records whatever the chunking. */
import { describe, expect, it } from 'vitest';
import { LineSplitter } from '../src/sources/line-splitter.js';
import { CsvParser, type CsvRecord } from '../src/sources/csv-parser.js';
import { RecordReader, type InputFormat, type RecordBatch } from '../src/sources/record-reader.js';
import { quoteField, RecordFormatter } from '../src/sinks/output-format.js';
import { calibrate } from '../src/cli/calibrate-command.js';

function lines(input: Buffer, chunk: number): string[] {
  const s = new LineSplitter();
  const out: string[] = [];
  const sink = {
    line: (b: Uint8Array, st: number, e: number) => out.push(Buffer.from(b.subarray(st, e)).toString('latin1')),
    longLine: (parts: readonly Uint8Array[], len: number) => out.push(Buffer.concat(parts).subarray(0, len).toString('latin1')),
  };
  for (let i = 0; i < input.length; i += chunk) s.push(input.subarray(i, i + chunk), sink);
  s.end(sink);
  return out;
}

async function read(format: InputFormat, input: Buffer, chunk: number, field?: string): Promise<{ texts: string[]; errors: string[]; raw: string[] }> {
  const reader = new RecordReader({ format, file: 'in', batchBytes: 1024, batchRecords: 3, keepRaw: true, ...(field ? { field } : {}) });
  async function* src(): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < input.length; i += chunk) yield input.subarray(i, i + chunk);
  }
  const texts: string[] = [];
  const errors: string[] = [];
  const raw: string[] = [];
  let index = 0;
  for await (const b of reader.batches(src()) as AsyncGenerator<RecordBatch>) {
    expect(b.firstIndex).toBe(index);
    index += b.count;
    for (let i = 0; i < b.count; i++) {
      texts.push(Buffer.from(b.text.bytes.subarray(b.text.offsets[i], b.text.offsets[i + 1])).toString('utf8'));
      if (b.raw) raw.push(Buffer.from(b.raw.bytes.subarray(b.raw.offsets[i], b.raw.offsets[i + 1])).toString('utf8'));
    }
    for (const e of b.errors) errors.push(`${b.firstIndex + e.local}@${e.line}: ${e.message}`);
  }
  return { texts, errors, raw };
}

describe('LineSplitter', () => {
  const input = Buffer.from('one\r\n\r\ntwo three\n\nlong line spanning chunks\r\nx\r\n\rlast\r');
  const want = ['one', '', 'two three', '', 'long line spanning chunks', 'x', '\rlast\r'];
  it.each([1, 2, 3, 5, 7, 64])('chunk size %i', (n) => {
    expect(lines(input, n)).toEqual(want);
  });
  it('no final LF, only LFs, nothing', () => {
    expect(lines(Buffer.from('a'), 1)).toEqual(['a']);
    expect(lines(Buffer.from('\n\n'), 1)).toEqual(['', '']);
    expect(lines(Buffer.from(''), 1)).toEqual([]);
    expect(lines(Buffer.from('a\r'), 1)).toEqual(['a\r']);
  });
});

describe('CSV parser', () => {
  const csv = Buffer.from('id,text,n\r\n1,"a, ""b""\r\nc",2\r\n2,plain,3\n\n3,x"y,4\n4,"ok"z,5\n5,"end"\n6,"open');
  it.each([1, 2, 3, 4, 9, 1000])('chunk size %i gives the same records', async (n) => {
    const r = await read('csv', csv, n);
    expect(r.texts).toEqual(['a, "b"\r\nc', 'plain', '', '', '', 'end', '']);
    expect(r.errors).toEqual([
      '3@6: a quote inside unquoted field 2 (quote the whole field and double the quote)',
      '4@7: unexpected character after the closing quote of field 2',
      '6@9: unterminated quoted field 2 (the quote opened on line 9 is never closed)',
    ]);
    expect(r.raw[0]).toBe('1,"a, ""b""\r\nc",2');
    expect(r.raw[1]).toBe('2,plain,3');
  });
  it('header-only and empty inputs give no records', async () => {
    expect((await read('csv', Buffer.from('text\n'), 1)).texts).toEqual([]);
    expect((await read('csv', Buffer.from(''), 1)).texts).toEqual([]);
  });
  it('header fields are strings', () => {
    const p = new CsvParser(9, false);
    const got: CsvRecord[] = [];
    p.push(Buffer.from('a\t"b c"\té\n'), (r) => got.push(r));
    expect(got[0].fields).toEqual(['a', 'b c', 'é']);
  });
});

describe('JSONL reader', () => {
  it.each([1, 3, 11, 4096])('chunk size %i', async (n) => {
    const input = Buffer.from('{"text":"a"}\r\n{"t":1}\n\n{"text":"ü","x":[1]}\n"str"\n{"text":"end"}');
    const r = await read('jsonl', input, n);
    expect(r.texts).toEqual(['a', '', '', 'ü', '', 'end']);
    expect(r.errors).toEqual([
      '1@2: missing field "text"',
      '2@3: invalid JSON: empty line, expected a JSON object',
      '4@5: expected a JSON object, got a string',
    ]);
    // raw is the line itself (error records' raw bytes are never written to shards)
    expect(r.raw).toEqual(['{"text":"a"}', '{"t":1}', '', '{"text":"ü","x":[1]}', '"str"', '{"text":"end"}']);
  });
});

describe('output formatting', () => {
  it('quotes CSV fields per RFC 4180', () => {
    expect(quoteField('plain', ',')).toBe('plain');
    expect(quoteField('a,b', ',')).toBe('"a,b"');
    expect(quoteField('say "hi"', ',')).toBe('"say ""hi"""');
    expect(quoteField('two\nlines', ',')).toBe('"two\nlines"');
    expect(quoteField('a\tb', '\t')).toBe('"a\tb"');
    expect(quoteField('a\tb', ',')).toBe('a\tb');
  });
  it('prints Q16 numbers exactly', () => {
    const f = new RecordFormatter({ format: 'jsonl', includeText: false, errorColumn: false });
    expect(f.record(7, 1, 1, 65535)).toBe('{"index":7,"expert":1,"complexity":0.0000152587890625,"confidence":0.9999847412109375}\n');
    expect(f.record(0, 0, 0, 65536)).toBe('{"index":0,"expert":0,"complexity":0,"confidence":1}\n');
  });
});

describe('calibrate (exact quantiles)', () => {
  it('boundaries at the quantile scores, shares exact without ties', () => {
    const sorted = Uint32Array.from({ length: 100 }, (_, i) => 100 + i * 10);
    const c = calibrate(sorted, [0.5, 0.3, 0.2]);
    expect(c.boundariesQ16).toEqual([600, 900]);
    expect(c.counts).toEqual([50, 30, 20]);
    expect(c.exact).toBe(true);
  });
  it('ties and zeros: boundaries stay strictly increasing and in (0, 1)', () => {
    const c = calibrate(new Uint32Array(10), [0.5, 0.25, 0.25]);
    expect(c.boundariesQ16).toEqual([1, 2]);
    expect(c.counts).toEqual([10, 0, 0]);
    expect(c.exact).toBe(false);
    expect(() => calibrate(new Uint32Array([65535, 65535]), [0.5, 0.25, 0.25])).toThrow(/too concentrated/);
  });
});
