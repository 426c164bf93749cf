/**
 * The workers' in-place `lines` packer gives exactly RecordReader's records, errors and messages:
 * the WebAssembly packer (with its default windows and with tiny ones that cut lines, CRLFs and
 * over-long records at every place, and that hand stretches of long lines to the JavaScript loop)
 * and its JavaScript twin alike.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { linePackerKind, packLinesInPlace, packLinesInPlaceJs } from '../src/sources/lines-in-place.js';
import { WasmLinePacker } from '../src/sources/wasm/wasm-lines.js';
import { RecordReader, type RecordBatch } from '../src/sources/record-reader.js';
import { rng } from './helpers/random.js';

async function viaReader(bytes: Uint8Array, atFileStart: boolean, max: number): Promise<RecordBatch> {
  const reader = new RecordReader({ format: 'lines', file: 'x', batchBytes: 1 << 30, batchRecords: 1 << 30, keepRaw: false, atFileStart, maxRecordBytes: max });
  const out: RecordBatch[] = [];
  for await (const b of reader.batches((async function* () {
    yield bytes.slice();
  })()))
    out.push(b);
  expect(out.length).toBeLessThanOrEqual(1);
  return out[0] ?? { firstIndex: 0, count: 0, errors: [], text: { bytes: new Uint8Array(0), offsets: new Uint32Array(1) }, inputBytes: bytes.length };
}

function records(b: RecordBatch): string[] {
  return Array.from({ length: b.count }, (_, i) => Buffer.from(b.text.bytes.subarray(b.text.offsets[i], b.text.offsets[i + 1])).toString('latin1'));
}

type Packer = (chunk: Uint8Array, atFileStart: boolean, max: number) => RecordBatch;

/**
 * Every packer under test: the default (WebAssembly here), the twin, and WebAssembly with windows
 * of a few bytes and records, all in the module or switching to the JavaScript loop and back at
 * a few bytes per line.
 */
const PACKERS: [string, Packer][] = [
  ['default', packLinesInPlace],
  ['js', packLinesInPlaceJs],
  ...[
    [1, 1, Infinity],
    [2, 3, Infinity],
    [3, 1, Infinity],
    [5, 2, Infinity],
    [7, 100, Infinity],
    [16, 4, Infinity],
    [17, 1000, Infinity],
    [33, 5, Infinity],
    [64, 1000, Infinity],
    [5, 2, 3],
    [7, 100, 4],
    [16, 4, 6],
    [33, 5, 8],
    [64, 1000, 16],
  ].map(([windowBytes, windowRecords, longLineBytes]): [string, Packer] => {
    const p = new WasmLinePacker({ windowBytes, windowRecords, longLineBytes });
    return [`wasm ${windowBytes} B / ${windowRecords} records / JS from ${longLineBytes} B per line`, (c, a, m) => p.pack(c, a, m)];
  }),
];

async function expectAllEqual(bytes: Uint8Array, atFileStart: boolean, max: number): Promise<void> {
  const want = await viaReader(bytes, atFileStart, max);
  for (const [name, pack] of PACKERS) {
    // a view into a bigger buffer, not at its start
    const chunk = new Uint8Array(bytes.length + 8).subarray(4, 4 + bytes.length);
    chunk.set(bytes);
    const got = pack(chunk, atFileStart, max);
    const what = `${name} on ${JSON.stringify(Buffer.from(bytes).toString('latin1'))} atFileStart=${atFileStart} max=${max}`;
    expect(got.count, what).toBe(want.count);
    expect(records(got), what).toEqual(records(want));
    expect(got.errors, what).toEqual(want.errors);
    expect(got.inputBytes, what).toBe(bytes.length);
    expect(got.text.offsets[0], what).toBe(0);
    // in place: the records are the start of the caller's own buffer
    expect(got.text.bytes.buffer, what).toBe(chunk.buffer);
    expect(got.text.bytes.byteOffset, what).toBe(chunk.byteOffset);
  }
}

describe('packLinesInPlace', () => {
  it('equals RecordReader on CR, CRLF, empty lines, a missing last LF, a BOM, NUL and invalid UTF-8, and over-long lines', async () => {
    const rand = rng(11);
    const pieces = ['a', 'b\r', '\r', '', '\u0000', '\xff\xfe', 'long'.repeat(30), ' ', '\r\r', '\n\r', '\r\n\r\n', '\xef\xbb\xbf', 'x'.repeat(15), 'y'.repeat(16), 'z'.repeat(17)];
    for (let trial = 0; trial < 400; trial++) {
      const lines = Array.from({ length: Math.floor(rand() * 12) }, () => Array.from({ length: Math.floor(rand() * 4) }, () => pieces[Math.floor(rand() * pieces.length)]).join(''));
      let text = lines.join(rand() < 0.7 ? '\n' : '\r\n') + (rand() < 0.5 ? '\n' : rand() < 0.5 ? '\r' : '');
      if (rand() < 0.2) text = '\xef\xbb\xbf' + text;
      const atFileStart = rand() < 0.5;
      const max = [0, 1, 2, 15, 16, 17, 50, 1 << 20][Math.floor(rand() * 8)];
      await expectAllEqual(Buffer.from(text, 'latin1'), atFileStart, max);
    }
  });

  it('equals RecordReader on edge cases', async () => {
    const cases = ['', '\n', '\r', '\r\n', '\n\n', 'a', 'a\r', 'a\r\n', '\xef\xbb\xbf', '\xef\xbb', '\xef\xbb\xbf\n', '\xef\xbb\xbfa\r\nb', 'a\n\xef\xbb\xbfb\n', 'abc\r\r\n\rdef\r'];
    for (const text of cases) for (const atFileStart of [false, true]) for (const max of [0, 1, 3, 1 << 20]) await expectAllEqual(Buffer.from(text, 'latin1'), atFileStart, max);
  });

  it('equals RecordReader on longer inputs: lines of every length around the windows, over-long ones among them', async () => {
    const rand = rng(5);
    for (let trial = 0; trial < 40; trial++) {
      const parts: string[] = [];
      const lines = 50 + Math.floor(rand() * 200);
      for (let i = 0; i < lines; i++) {
        const length = rand() < 0.1 ? Math.floor(rand() * 200) : Math.floor(rand() * 40);
        let line = '';
        for (let k = 0; k < length; k++) line += rand() < 0.05 ? '\r' : String.fromCharCode(32 + Math.floor(rand() * 224));
        parts.push(line + (rand() < 0.3 ? '\r\n' : '\n'));
      }
      let text = parts.join('');
      if (rand() < 0.5) text = text.slice(0, Math.floor(rand() * text.length));
      await expectAllEqual(Buffer.from(text, 'latin1'), rand() < 0.5, [5, 16, 33, 64, 100, 1 << 20][Math.floor(rand() * 6)]);
    }
  });

  it('moves a line longer than the window, with or without its LF, and grows the offsets past their first guess', async () => {
    const long = 'q'.repeat(300);
    for (const text of [long, `${long}\r`, `${long}\r\n`, `a\n${long}\nb`, `${long}\n${long}\r\n\n`, '\n'.repeat(500), 'a\r\n'.repeat(300)]) {
      for (const max of [10, 299, 300, 301]) await expectAllEqual(Buffer.from(text, 'latin1'), false, max);
    }
  });

  describe('the packer chosen', () => {
    afterEach(() => {
      vi.unstubAllEnvs();
      vi.resetModules();
    });

    it('is the WebAssembly one where it runs, the JavaScript twin with MOE_ROUTER_CPU_KERNEL=js', async () => {
      expect(linePackerKind()).toBe('wasm');
      vi.stubEnv('MOE_ROUTER_CPU_KERNEL', 'js');
      vi.resetModules();
      const fresh = await import('../src/sources/lines-in-place.js');
      expect(fresh.linePackerKind()).toBe('js');
      const got = fresh.packLinesInPlace(Buffer.from('a\r\nb\n\nc'), false, 1 << 20);
      expect(records(got)).toEqual(['a', 'b', '', 'c']);
    });
  });
});
