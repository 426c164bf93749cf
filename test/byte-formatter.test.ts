/**
 * ByteFormatter writes, as bytes, exactly what RecordFormatter writes as
 * text (encoded as UTF-8): every Q16 number, every index, the header, error
 * records, the error column, and --include-text of any bytes in all three
 * formats, through buffers far smaller than a record.
 */
import { describe, expect, it } from 'vitest';
import { ByteFormatter, ByteOutput } from '../src/sinks/byte-formatter.js';
import { WasmFormatter, type WasmFormatterSizes } from '../src/sinks/wasm/wasm-formatter.js';
import { OUTPUT_FORMATS, RecordFormatter, recordText, type FormatOptions } from '../src/sinks/output-format.js';
import { PIECES, packBytes, randomBytes, randomInt, randomText, rng } from './helpers/random.js';
import { formatBatch } from '../src/sinks/batch-formatter.js';
import { resolveRouterConfig } from '../src/model/router-config.js';
import { wasmAvailable } from '../src/wasm/instance.js';
import { CPU_KERNEL_ENV } from '../src/backends/cpu/cpu-backend.js';

const enc = new TextEncoder();
const b = (...bytes: number[]): Uint8Array => Uint8Array.from(bytes);

/** Every shape of ill-formed UTF-8 (Unicode table 3-8 and the WHATWG decoder's cases), alone and between ASCII. */
const INVALID = [
  b(0x80), b(0xbf), b(0x80, 0x80, 0x80), b(0xc0), b(0xc1, 0xbf), b(0xc0, 0xaf), b(0xc2), b(0xc2, 0x41), b(0xdf, 0xc0),
  b(0xe0), b(0xe0, 0x80), b(0xe0, 0x9f, 0xbf), b(0xe0, 0xa0), b(0xe1, 0x80), b(0xe1, 0x80, 0x41), b(0xed, 0xa0, 0x80),
  b(0xed, 0xbf, 0xbf), b(0xed, 0x9f), b(0xef, 0xbf), b(0xf0), b(0xf0, 0x80, 0x80, 0xaf), b(0xf0, 0x8f, 0xbf, 0xbf),
  b(0xf0, 0x90), b(0xf0, 0x9f, 0x8e), b(0xf1, 0x80, 0x80), b(0xf4, 0x90, 0x80, 0x80), b(0xf4, 0x8f, 0xbf), b(0xf5, 0x80, 0x80, 0x80),
  b(0xf8, 0x88, 0x80, 0x80, 0x80), b(0xfc, 0x84, 0x80, 0x80, 0x80, 0x80), b(0xfe), b(0xff), b(0xff, 0xfe, 0x00),
  b(0x61, 0x80, 0x62), b(0x61, 0xe6, 0x97, 0x62), b(0xe6, 0x97, 0xe6, 0x97, 0xa5), b(0xf0, 0x9f, 0x8e, 0x22, 0x2c),
];
const VALID_EDGES = [
  b(0xc2, 0x80), b(0xdf, 0xbf), b(0xe0, 0xa0, 0x80), b(0xed, 0x9f, 0xbf), b(0xee, 0x80, 0x80), b(0xef, 0xbf, 0xbf),
  b(0xf0, 0x90, 0x80, 0x80), b(0xf4, 0x8f, 0xbf, 0xbf), b(0xef, 0xbb, 0xbf), b(0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf, 0x41),
];
const STRINGS = [
  '', 'plain', ' ', 'a,b', 'a\tb', 'say "hi"', '"', '""', 'back\\slash', '\\"', 'two\nlines', 'cr\rx', 'crlf\r\n', '\r\n',
  '\u2028\u2029', '\ufeff', '\ufeffBOM at start', 'BOM \ufeff inside', '\ufffd', '🎉', '👨‍👩‍👧‍👦', '東京', '\u{10ffff}', 'e\u0301',
  '\x7f', '\x1b[31m', '</script>', "it's", '=1+1', ',', '\t',
  ...Array.from({ length: 32 }, (_, c) => `${String.fromCharCode(c)}x${String.fromCharCode(c)}`),
];
const r = rng(77);
const TEXTS: Uint8Array[] = [
  ...INVALID,
  ...VALID_EDGES,
  ...STRINGS.map((s) => enc.encode(s)),
  Uint8Array.from({ length: 256 }, (_, i) => i),
  ...Array.from({ length: 300 }, () => randomBytes(r, randomInt(r, 60))),
  ...Array.from({ length: 300 }, () => enc.encode(randomText(r, 10))),
  // Longer than the smallest output buffer, so records flush mid-text (also mid-sequence, mid-escape).
  randomBytes(r, 5000),
  enc.encode(PIECES.join('').repeat(40)),
  enc.encode('\0"\\,\t\n\r'.repeat(700)),
];

const ALL_OPTIONS: FormatOptions[] = OUTPUT_FORMATS.flatMap((format) =>
  [false, true].flatMap((includeText) => [false, true].map((errorColumn) => ({ format, includeText, errorColumn }))),
);

/** Collects what a ByteOutput hands over, checking no piece is larger than its buffer. */
function collector(capacity: number): { out: ByteOutput; bytes(): Buffer; pieces: () => number } {
  const chunks: Buffer[] = [];
  const out = new ByteOutput((c) => {
    expect(c.length).toBeLessThanOrEqual(out.buffer.length);
    chunks.push(Buffer.from(c));
  }, capacity);
  return {
    out,
    bytes: () => {
      out.flush();
      return Buffer.concat(chunks);
    },
    pieces: () => chunks.length,
  };
}

function expectSameBytes(got: Buffer, want: Buffer, label: string): void {
  if (got.equals(want)) return;
  let d = 0;
  while (d < Math.min(got.length, want.length) && got[d] === want[d]) d++;
  expect.fail(`${label}: byte ${d} differs: got ${JSON.stringify(got.subarray(Math.max(0, d - 30), d + 30).toString())}, want ${JSON.stringify(want.subarray(Math.max(0, d - 30), d + 30).toString())}`);
}

describe('the byte formatter writes what RecordFormatter writes', () => {
  it.each(ALL_OPTIONS)('for %j: header, records with adversarial texts, error records', (options) => {
    const strings = new RecordFormatter(options);
    const bytes = new ByteFormatter(options);
    for (const capacity of [1 << 16, 0]) {
      const c = collector(capacity); // 0: the smallest buffer there is
      let want = strings.header();
      bytes.header(c.out);
      TEXTS.forEach((text, i) => {
        const index = i * 7919;
        if (i % 37 === 5) {
          const message = `line ${i}: bad "value", see\n${recordText(text)}`;
          want += strings.error(index, message);
          bytes.error(c.out, index, message);
          return;
        }
        const score = (i * 2654435761) % 65537;
        const confidence = (i * 40503) % 65537;
        want += strings.record(index, i % 1024, score, confidence, options.includeText ? recordText(text) : undefined);
        // The text sits inside a larger buffer, as in a packed batch.
        const packed = new Uint8Array(text.length + 6);
        packed.set(text, 3);
        bytes.record(c.out, index, i % 1024, score, confidence, packed, 3, 3 + text.length);
      });
      expectSameBytes(c.bytes(), Buffer.from(want, 'utf8'), `${JSON.stringify(options)}, buffer of ${capacity}`);
      if (capacity === 0) expect(c.pieces()).toBeGreaterThan(10);
    }
  });

  it.each(ALL_OPTIONS)('for %j through records(), a run of a packed batch', (options) => {
    const offsets = new Uint32Array(TEXTS.length + 1);
    TEXTS.forEach((t, i) => (offsets[i + 1] = offsets[i] + t.length));
    const packed = new Uint8Array(offsets[TEXTS.length]);
    TEXTS.forEach((t, i) => packed.set(t, offsets[i]));
    const n = TEXTS.length;
    const experts = Uint32Array.from({ length: n }, (_, i) => i % 17);
    const scores = Uint32Array.from({ length: n }, (_, i) => (i * 131) % 65537);
    const conf = Uint32Array.from({ length: n }, (_, i) => 65536 - ((i * 977) % 65537));
    const strings = new RecordFormatter(options);
    let want = '';
    // Records 10.. of the batch, numbered from 1000.
    for (let i = 10; i < n; i++) {
      want += strings.record(1000 + i - 10, experts[i], scores[i], conf[i], options.includeText ? recordText(TEXTS[i]) : undefined);
    }
    const c = collector(1000);
    new ByteFormatter(options).records(c.out, { firstIndex: 1000, count: n - 10, experts: experts.subarray(10), scoresQ16: scores.subarray(10), confidenceQ16: conf.subarray(10), text: { bytes: packed, offsets: offsets.subarray(10) } });
    expectSameBytes(c.bytes(), Buffer.from(want, 'utf8'), JSON.stringify(options));
  });

  it.each(OUTPUT_FORMATS)('for every one of the 65,537 Q16 values and awkward indices (%s)', (format) => {
    const options = { format, includeText: false, errorColumn: false };
    const strings = new RecordFormatter(options);
    const bytes = new ByteFormatter(options);
    const c = collector(1 << 20);
    let want = '';
    for (let q = 0; q <= 65536; q++) {
      want += strings.record(q, q & 3, q, 65536 - q);
      bytes.record(c.out, q, q & 3, q, 65536 - q);
    }
    for (const index of [9, 10, 99, 100, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 53 - 1]) {
      want += strings.record(index, 1023, 1, 65535);
      bytes.record(c.out, index, 1023, 1, 65535);
    }
    expectSameBytes(c.bytes(), Buffer.from(want, 'utf8'), format);
  });
});

/** The WebAssembly formatter's sizes: its defaults, and tiny ones that cut every window and send long texts to ByteFormatter. */
const WASM_SIZES: [string, WasmFormatterSizes][] = [
  ['default sizes', {}],
  ['tiny windows', { windowBytes: 64, windowRecords: 3, outputBytes: 600 }],
  ['one record per window', { windowRecords: 1, outputBytes: 1024 }],
];

describe('the WebAssembly formatter writes what RecordFormatter writes', () => {
  const offsets = new Uint32Array(TEXTS.length + 1);
  TEXTS.forEach((t, i) => (offsets[i + 1] = offsets[i] + t.length));
  const packed = new Uint8Array(offsets[TEXTS.length]);
  TEXTS.forEach((t, i) => packed.set(t, offsets[i]));
  const n = TEXTS.length;
  const experts = Uint32Array.from({ length: n }, (_, i) => (i * 7) % 1024);
  const scores = Uint32Array.from({ length: n }, (_, i) => (i * 2654435761) % 65537);
  const conf = Uint32Array.from({ length: n }, (_, i) => 65536 - ((i * 977) % 65537));

  it.each(ALL_OPTIONS.flatMap((o) => WASM_SIZES.map(([label, sizes]) => [o, label, sizes] as const)))(
    'for %j with %s, adversarial texts in a packed batch',
    (options, _label, sizes) => {
      const strings = new RecordFormatter(options);
      let want = '';
      // Records 10.. of the batch, numbered from 2^32 - 5 (indexes past 32 bits).
      const first = 2 ** 32 - 5;
      for (let i = 10; i < n; i++) want += strings.record(first + i - 10, experts[i], scores[i], conf[i], options.includeText ? recordText(TEXTS[i]) : undefined);
      const c = collector(1000);
      new WasmFormatter(options, sizes).records(c.out, { firstIndex: first, count: n - 10, experts: experts.subarray(10), scoresQ16: scores.subarray(10), confidenceQ16: conf.subarray(10), text: { bytes: packed, offsets: offsets.subarray(10) } });
      expectSameBytes(c.bytes(), Buffer.from(want, 'utf8'), JSON.stringify(options));
    },
  );

  it.each(OUTPUT_FORMATS)('for every one of the 65,537 Q16 values and awkward indices (%s)', (format) => {
    const options = { format, includeText: false, errorColumn: format !== 'jsonl' };
    const strings = new RecordFormatter(options);
    const indices = [...Array.from({ length: 65537 }, (_, q) => q), 9, 10, 99, 100, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 53 - 1];
    const e = Uint32Array.from(indices, (_, k) => (k < 65537 ? k & 3 : 0xffffffff));
    const s = Uint32Array.from(indices, (_, k) => (k < 65537 ? k : 1));
    const c2 = Uint32Array.from(indices, (_, k) => (k < 65537 ? 65536 - k : 65535));
    let want = '';
    const c = collector(1 << 20);
    const f = new WasmFormatter(options);
    // One record at a time where the index jumps; runs of consecutive indices in one call.
    f.records(c.out, { firstIndex: 0, count: 65537, experts: e, scoresQ16: s, confidenceQ16: c2 });
    for (let k = 0; k < indices.length; k++) want += strings.record(indices[k], e[k], s[k], c2[k]);
    for (let k = 65537; k < indices.length; k++) f.records(c.out, { firstIndex: indices[k], count: 1, experts: e.subarray(k), scoresQ16: s.subarray(k), confidenceQ16: c2.subarray(k) });
    expectSameBytes(c.bytes(), Buffer.from(want, 'utf8'), format);
  });

  it.each(WASM_SIZES)('counts indexes up across every digit-count rollover inside one call (%s)', (_label, sizes) => {
    // Runs that cross 9 -> 10, 99 -> 100, ..., 999999 -> 1000000, 2^32, 10^14, 10^15 (16 digits), and end at 2^53 - 1.
    const starts = [0, 5, 95, 995, 9995, 99_995, 999_990, 9_999_995, 2 ** 32 - 10, 99_999_999_999_990, 999_999_999_999_990, 2 ** 53 - 40];
    const options = { format: 'jsonl' as const, includeText: false, errorColumn: false };
    const strings = new RecordFormatter(options);
    const f = new WasmFormatter(options, sizes);
    const n = 40;
    const e = Uint32Array.from({ length: n }, (_, k) => [0, 9, 10, 99, 100, 1023, 65535, 4294967295][k % 8]);
    const s = Uint32Array.from({ length: n }, (_, k) => (k * 1637) % 65537);
    const q = Uint32Array.from({ length: n }, (_, k) => 65536 - ((k * 977) % 65537));
    const c = collector(1 << 16);
    let want = '';
    for (const first of starts) {
      f.records(c.out, { firstIndex: first, count: n, experts: e, scoresQ16: s, confidenceQ16: q });
      for (let k = 0; k < n; k++) want += strings.record(first + k, e[k], s[k], q[k]);
    }
    expect(starts.at(-1)! + n - 1).toBe(Number.MAX_SAFE_INTEGER);
    expectSameBytes(c.bytes(), Buffer.from(want, 'utf8'), 'rollovers');
  });

  it.each(ALL_OPTIONS.filter((o) => o.includeText))('escapes each special byte at every place of texts around 16, 32, 48, 64 and 128 bytes (%j)', (options) => {
    // The escaping goes 64 bytes (four vectors of 16) at a time: a byte to escape or check before, on and after each edge.
    const specials = [0x22, 0x5c, 0x0a, 0x0d, 0x09, 0x2c, 0x01, 0x1f, 0x7f, 0x80, 0xff, ...enc.encode('é'), ...enc.encode('東')];
    const lengths = [...Array.from({ length: 19 }, (_, k) => k), 30, 31, 32, 33, 34, 46, 47, 48, 49, 50, 62, 63, 64, 65, 66, 126, 127, 128, 129, 130];
    const texts: Uint8Array[] = [];
    for (const length of lengths) {
      texts.push(Uint8Array.from({ length }, (_, k) => 0x61 + (k % 26)));
      for (let at = 0; at < length; at++) {
        for (const b of specials) {
          const t = Uint8Array.from({ length }, (_, k) => 0x61 + (k % 26));
          t[at] = b;
          texts.push(t);
        }
      }
      // A valid three-byte character ending at the last byte, and one cut short by the end.
      if (length >= 3) texts.push(Uint8Array.from({ length }, (_, k) => (k < length - 3 ? 0x41 : [0xe6, 0x9d, 0xb1][k - (length - 3)])));
      if (length >= 2) texts.push(Uint8Array.from({ length }, (_, k) => (k < length - 2 ? 0x41 : [0xe6, 0x9d][k - (length - 2)])));
    }
    const offs = new Uint32Array(texts.length + 1);
    texts.forEach((t, i) => (offs[i + 1] = offs[i] + t.length));
    const all = new Uint8Array(offs[texts.length]);
    texts.forEach((t, i) => all.set(t, offs[i]));
    const n = texts.length;
    const ones = new Uint32Array(n).fill(1);
    const strings = new RecordFormatter(options);
    const want = texts.map((t, i) => strings.record(i, 1, 1, 1, recordText(t))).join('');
    for (const [label, sizes] of WASM_SIZES) {
      const c = collector(1 << 16);
      new WasmFormatter(options, sizes).records(c.out, { firstIndex: 0, count: n, experts: ones, scoresQ16: ones, confidenceQ16: ones, text: { bytes: all, offsets: offs } });
      expectSameBytes(c.bytes(), Buffer.from(want, 'utf8'), `${JSON.stringify(options)}, ${label}`);
    }
  });

  it('writes a 3 MB text (past its window) through ByteFormatter, between records it formats itself', () => {
    const options = { format: 'jsonl' as const, includeText: true, errorColumn: false };
    const big = enc.encode('"quoted" \\ é\n'.repeat(200_000));
    const texts = [enc.encode('before'), big, enc.encode('after')];
    const offs = new Uint32Array(4);
    texts.forEach((t, i) => (offs[i + 1] = offs[i] + t.length));
    const all = new Uint8Array(offs[3]);
    texts.forEach((t, i) => all.set(t, offs[i]));
    const strings = new RecordFormatter(options);
    const want = texts.map((t, i) => strings.record(i, i, 100 * i, 65536, recordText(t))).join('');
    const c = collector(1 << 16);
    new WasmFormatter(options).records(c.out, { firstIndex: 0, count: 3, experts: Uint32Array.of(0, 1, 2), scoresQ16: Uint32Array.of(0, 100, 200), confidenceQ16: Uint32Array.of(65536, 65536, 65536), text: { bytes: all, offsets: offs } });
    expectSameBytes(c.bytes(), Buffer.from(want, 'utf8'), 'big text');
  });
});

describe('a ByteOutput', () => {
  it('hands a long write to the sink as it is, after what is pending, in pieces no longer than its buffer', () => {
    const got: Uint8Array[] = [];
    const out = new ByteOutput((c) => got.push(c.slice()), 40_000);
    const short = enc.encode('short,');
    const long = randomBytes(rng(5), 100_000);
    out.writeBytes(short);
    out.writeBytes(long);
    out.writeBytes(short);
    out.flush();
    expect(got.map((c) => c.length)).toEqual([short.length, 40_000, 40_000, 20_000, short.length]);
    expect(Buffer.concat(got).equals(Buffer.concat([short, long, short]))).toBe(true);
  });
});

describe('formatBatch', () => {
  const config = resolveRouterConfig();
  it.each(ALL_OPTIONS)('writes error records between runs of routed records, long and short (%j)', (options) => {
    // Runs long enough for the formatter's output to skip ByteOutput's buffer, and runs of one record.
    const r2 = rng(11);
    const texts = Array.from({ length: 30_000 }, () => enc.encode(randomText(r2, 3)));
    const { bytes, offsets } = packBytes(texts);
    const n = texts.length;
    const errorsAt = [0, 1, 3, 4, 5, 2000, 2001, 9000, 9002, 25_000, n - 1];
    const errors = errorsAt.map((local) => ({ local, line: local + 7, message: `bad "record" ${local}` }));
    const routing = {
      experts: Uint32Array.from({ length: n }, (_, i) => i % 5),
      scoresQ16: Uint32Array.from({ length: n }, (_, i) => (i * 2654435761) % 65537),
      confidenceQ16: Uint32Array.from({ length: n }, (_, i) => 65536 - ((i * 977) % 65537)),
    };
    const firstIndex = 999_000;
    const batch = { firstIndex, count: n, text: { bytes, offsets }, errors, inputBytes: bytes.length };
    const spec = { ...options, shards: 0, rawShards: false, models: null, explain: false };
    const { output } = formatBatch(batch, routing, n, spec, config);
    const strings = new RecordFormatter(options);
    const parts: string[] = [];
    for (let i = 0, e = 0; i < n; i++) {
      if (e < errors.length && errors[e].local === i) parts.push(strings.error(firstIndex + i, `line ${errors[e].line}: ${errors[e++].message}`));
      else parts.push(strings.record(firstIndex + i, routing.experts[i], routing.scoresQ16[i], routing.confidenceQ16[i], options.includeText ? recordText(texts[i]) : undefined));
    }
    expectSameBytes(Buffer.concat(output), Buffer.from(parts.join(''), 'utf8'), JSON.stringify(options));
    // Through WasmFormatter, the long runs' output came as parts of their own, each a whole ArrayBuffer (a worker
    // transfers it without a copy). MOE_ROUTER_CPU_KERNEL=js formats into one buffer instead.
    if (wasmAvailable() && process.env[CPU_KERNEL_ENV] !== 'js') {
      expect(output.length).toBeGreaterThan(2);
      for (const part of output.slice(0, -1)) expect(part.byteLength).toBe(part.buffer.byteLength);
    }
  });
});

describe('record text', () => {
  it('keeps a leading U+FEFF and turns each maximal ill-formed subpart into one U+FFFD (pinned)', () => {
    expect(recordText(b(0xef, 0xbb, 0xbf, 0x61))).toBe('\ufeffa');
    expect(recordText(b(0xf0, 0x9f, 0x8e, 0x61, 0xe0, 0x80, 0xed, 0xa0, 0x80, 0xff))).toBe('\ufffda\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd');
    const f = new RecordFormatter({ format: 'jsonl', includeText: true, errorColumn: false });
    expect(f.record(0, 0, 0, 65536, b(0xef, 0xbb, 0xbf, 0x61))).toBe('{"index":0,"expert":0,"complexity":0,"confidence":1,"text":"\ufeffa"}\n');
  });

  it.each<[FormatOptions['format'], string]>([
    ['jsonl', '{"index":3,"expert":1,"complexity":0.5,"confidence":1,"text":"\ufeffa\\u0000\\u001f\\b\\"\\\\\ufffdé\u2028\ufffdb,\\t"}\n'],
    ['csv', '3,1,0.5,1,"\ufeffa\u0000\u001f\b""\\\ufffdé\u2028\ufffdb,\t"\n'],
    ['tsv', '3\t1\t0.5\t1\t"\ufeffa\u0000\u001f\b""\\\ufffdé\u2028\ufffdb,\t"\n'],
  ])('is escaped as pinned in %s', (format, want) => {
    // BOM, a, NUL, US, BS, ", \, a stray continuation byte, é, U+2028, a truncated emoji, b, comma, tab
    const text = b(0xef, 0xbb, 0xbf, 0x61, 0x00, 0x1f, 0x08, 0x22, 0x5c, 0x80, 0xc3, 0xa9, 0xe2, 0x80, 0xa8, 0xf0, 0x9f, 0x8e, 0x62, 0x2c, 0x09);
    const c = collector(0);
    new ByteFormatter({ format, includeText: true, errorColumn: false }).record(c.out, 3, 1, 32768, 65536, text);
    expect(c.bytes().toString('utf8')).toBe(want);
  });

  it('writes a single 600 MB record in pieces of the buffer size', () => {
    // A line with a quote, a backslash, a non-ASCII character and LF, repeated: the JSON text is
    // known, so every piece is checked against it as it comes.
    const unit = enc.encode('Lorem ipsum dolor sit amet, "consectetur" adipiscing\\elit é\n');
    const escaped = enc.encode('Lorem ipsum dolor sit amet, \\"consectetur\\" adipiscing\\\\elit é\\n');
    const copies = Math.ceil((600 * 1e6) / unit.length);
    const text = Buffer.allocUnsafe(copies * unit.length);
    text.fill(unit);
    const head = Buffer.from('{"index":1,"expert":2,"complexity":0.25,"confidence":0.5,"text":"');
    const tail = Buffer.from('"}\n');
    const total = head.length + copies * escaped.length + tail.length;
    const capacity = 1 << 20;
    const body = Buffer.alloc(capacity + escaped.length);
    body.fill(escaped);
    let pos = 0;
    let pieces = 0;
    const out = new ByteOutput((chunk) => {
      pieces++;
      expect(chunk.length).toBeLessThanOrEqual(capacity);
      let k = 0;
      const c = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
      while (k < c.length && pos < head.length) expect(c[k++]).toBe(head[pos++]);
      const bodyEnd = head.length + copies * escaped.length;
      const n = Math.min(c.length - k, bodyEnd - pos);
      if (n > 0) {
        const phase = (pos - head.length) % escaped.length;
        if (!c.subarray(k, k + n).equals(body.subarray(phase, phase + n))) expect.fail(`piece ${pieces} differs near byte ${pos}`);
        k += n;
        pos += n;
      }
      while (k < c.length) expect(c[k++]).toBe(tail[pos++ - bodyEnd]);
    }, capacity);
    new ByteFormatter({ format: 'jsonl', includeText: true, errorColumn: false }).record(out, 1, 2, 16384, 32768, text);
    out.flush();
    expect(pos).toBe(total);
    expect(pieces).toBeGreaterThanOrEqual(Math.floor(total / capacity));
  });
});
