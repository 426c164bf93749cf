/**
 * The input hardening at the level of the readers, at every chunk boundary:
 * the record limit while a record grows, the CSV resync after a stray quote,
 * the BOM at byte 0 (even split across chunks), and big --include-text
 * records written in pieces equal to the one-string form.
 */
import { describe, expect, it } from 'vitest';
import { LineSplitter } from '../src/sources/line-splitter.js';
import { RecordReader, type InputFormat, type ReaderOptions } from '../src/sources/record-reader.js';
import { RecordFormatter, type OutputFormat } from '../src/sinks/output-format.js';

async function read(format: InputFormat, input: Buffer, chunk: number, opts: Partial<ReaderOptions> = {}): Promise<{ texts: string[]; errors: string[]; raw: string[] }> {
  const reader = new RecordReader({ format, file: 'in', batchBytes: 1024, batchRecords: 3, keepRaw: true, ...opts });
  async function* src(): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < input.length; i += chunk) yield input.subarray(i, i + chunk);
  }
  const texts: string[] = [];
  const errors: string[] = [];
  const raw: string[] = [];
  let index = opts.firstIndex ?? 0;
  for await (const b of reader.batches(src())) {
    expect(b.firstIndex).toBe(index);
    index += b.count;
    for (let i = 0; i < b.count; i++) {
      texts.push(Buffer.from(b.text.bytes.subarray(b.text.offsets[i], b.text.offsets[i + 1])).toString('utf8'));
      if (b.raw) raw.push(Buffer.from(b.raw.bytes.subarray(b.raw.offsets[i], b.raw.offsets[i + 1])).toString('utf8'));
    }
    for (const e of b.errors) errors.push(`${b.firstIndex + e.local}@${e.line}: ${e.message.replace(/ \(--max-record-bytes.*/, '')}`);
  }
  return { texts, errors, raw };
}

const CHUNKS = [1, 2, 3, 5, 7, 11, 64, 4096];

describe('the record limit, checked while the record grows', () => {
  it.each(CHUNKS)('lines and jsonl, chunk size %i', async (n) => {
    const long = 'x'.repeat(40);
    const input = Buffer.from(`ok\n${long}\r\n${'y'.repeat(16)}\r\n${long}`);
    const r = await read('lines', input, n, { maxRecordBytes: 16 });
    expect(r.texts).toEqual(['ok', '', 'y'.repeat(16), '']);
    expect(r.errors).toEqual(['1@2: the record is longer than 16 bytes', '3@4: the record is longer than 16 bytes']);
    const j = await read('jsonl', Buffer.from(`{"text":"${long}"}\n{"text":"a"}\n`), n, { maxRecordBytes: 16 });
    expect(j.texts).toEqual(['', 'a']);
    expect(j.errors).toEqual(['0@1: the record is longer than 16 bytes']);
  });

  it('a splitter holds at most the limit of an endless line', () => {
    const s = new LineSplitter(1000);
    let tooLong = 0;
    const sink = { line: () => undefined, longLine: () => undefined, tooLong: () => void tooLong++ };
    for (let i = 0; i < 10_000; i++) {
      s.push(new Uint8Array(300), sink);
      expect(s.pendingBytes).toBeLessThanOrEqual(1000);
    }
    expect(tooLong).toBe(1);
  });

  it('--on-error fail: the reader stops after the batch with the bad record (an endless input ends)', async () => {
    const reader = new RecordReader({ format: 'lines', file: 'zero', batchBytes: 1024, batchRecords: 100, keepRaw: false, maxRecordBytes: 1024, stopAtError: true });
    let chunks = 0;
    async function* endless(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('a\nb\n');
      for (;;) {
        chunks++;
        yield new Uint8Array(512);
      }
    }
    const batches = [];
    for await (const b of reader.batches(endless())) batches.push(b);
    expect(batches.reduce((a, b) => a + b.count, 0)).toBe(3);
    expect(batches.at(-1)?.errors.map((e) => e.line)).toEqual([3]);
    expect(chunks).toBeLessThan(10);
  });
});

describe('CSV: a stray quote swallows no row', () => {
  const csv = Buffer.from('id,text\n1,"abc\n2,ok\n3,"x""y"\n4,"multi\nline"\n5,"stray\n6,z\n7,w');
  it.each(CHUNKS)('chunk size %i', async (n) => {
    const r = await read('csv', csv, n);
    expect(r.texts).toEqual(['', 'ok', 'x"y', 'multi\nline', '', 'z', 'w']);
    expect(r.errors).toEqual([
      // the quote of line 2 "closes" at line 4's first quote, then x follows: resync at line 3
      '0@2: unexpected character after the closing quote of field 2, a quoted field that opened on line 2 and spans lines (a stray quote?)',
      '4@7: unterminated quoted field 2 (the quote opened on line 7 is never closed)',
    ]);
    expect(r.raw).toEqual(['', '2,ok', '3,"x""y"', '4,"multi\nline"', '', '6,z', '7,w']);
  });

  it.each(CHUNKS)('at the record limit (chunk size %i)', async (n) => {
    const rows = Array.from({ length: 30 }, (_, i) => `${i + 3},r${i + 3}`).join('\n');
    const r = await read('csv', Buffer.from(`id,text\n1,"open\n${rows}\n`), n, { maxRecordBytes: 64 });
    expect(r.errors).toEqual(['0@2: quoted field 2 opened on line 2 is not closed within 64 bytes']);
    expect(r.texts).toEqual(['', ...Array.from({ length: 30 }, (_, i) => `r${i + 3}`)]);
  });

  it.each(CHUNKS)('a row of exactly the limit (CRLF not counted) is read, one byte more is not (chunk size %i)', async (n) => {
    const at = `1,${'v'.repeat(30)}`; // 32 bytes
    const r = await read('csv', Buffer.from(`id,text\r\n${at}\r\n${at}v\r\n"2","${'w'.repeat(26)}"\r\n`), n, { maxRecordBytes: 32 });
    expect(r.texts).toEqual(['v'.repeat(30), '', 'w'.repeat(26)]);
    expect(r.errors).toEqual(['1@3: the record is longer than 32 bytes']);
  });

  it('a --shard part numbers its lines from the part start', async () => {
    const r = await read('csv', Buffer.from('5,a\n6,b"c\n'), 2, { csvHeader: Buffer.from('\ufeffid,text'), firstLine: 41, firstIndex: 39, atFileStart: false });
    expect(r.errors).toEqual(['40@42: a quote inside unquoted field 2 (quote the whole field and double the quote)']);
  });
});

describe('the BOM at byte 0', () => {
  it.each(CHUNKS)('is skipped for every format, even split across chunks (chunk size %i)', async (n) => {
    const bom = '\ufeff';
    expect((await read('lines', Buffer.from(`${bom}a\n${bom}b`), n)).texts).toEqual(['a', `${bom}b`]);
    expect((await read('jsonl', Buffer.from(`${bom}{"text":"a"}`), n)).texts).toEqual(['a']);
    expect((await read('csv', Buffer.from(`${bom}"text"\n"a"`), n)).texts).toEqual(['a']);
    expect((await read('tsv', Buffer.from(`${bom}text\nb`), n)).texts).toEqual(['b']);
    // a BOM prefix that is not a BOM is text; a part past byte 0 keeps it
    const notBom = await read('lines', Buffer.from([0xef, 0xbb, 0x0a, 0xef]), n);
    expect(notBom.texts).toEqual([Buffer.from([0xef, 0xbb]).toString('utf8'), Buffer.from([0xef]).toString('utf8')]);
    expect(notBom.raw).toEqual([]); // lines keep no raw copy: the text is the record
    expect((await read('lines', Buffer.from(`${bom}a`), n, { atFileStart: false })).texts).toEqual([`${bom}a`]);
  });
});

describe('a big text is written in pieces, equal to the one-string form', () => {
  // multi-byte characters, a leading U+FEFF, quotes, control characters, invalid UTF-8 and a split 4-byte sequence
  const text = Buffer.concat([Buffer.from('\ufeffé"q",\t\n\r東京🙂\u0001\\'), Buffer.from([0xff, 0xc3]), Buffer.from('end 🙂')]);
  const oneString = new TextDecoder('utf-8', { ignoreBOM: true }).decode(text);
  it.each<[OutputFormat, boolean]>([
    ['jsonl', false],
    ['csv', false],
    ['csv', true],
    ['tsv', true],
  ])('%s (error column: %s), every piece size', (format, errorColumn) => {
    const f = new RecordFormatter({ format, includeText: true, errorColumn });
    const want = f.record(7, 2, 1234, 65536, oneString);
    for (let piece = 1; piece <= text.length + 1; piece++) {
      expect([...f.recordPieces(7, 2, 1234, 65536, text, piece)].join('')).toBe(want);
    }
    const plain = Buffer.from('no quoting needed');
    expect([...f.recordPieces(0, 0, 0, 0, plain, 3)].join('')).toBe(f.record(0, 0, 0, 0, 'no quoting needed'));
  });
});
