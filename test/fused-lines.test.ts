/**
 * The chunk workers' fast lane (fused-lines.ts: packer, kernel and formatter on one shared memory)
 * writes exactly what the reference writes for the same chunk: the lines split as RecordReader
 * splits them, each routed by the CPU reference and formatted by RecordFormatter, for jsonl, csv and
 * tsv, with and without the text. And it hands the chunk back (null) whenever the general path must
 * take it.
 */
import { describe, expect, it } from 'vitest';
import { FusedLines } from '../src/job/parallel/fused-lines.js';
import { computeStatistics } from '../src/backends/cpu-reference/statistics.js';
import { scoreStatistics } from '../src/backends/cpu-reference/score.js';
import { resolveRouterConfig } from '../src/model/router-config.js';
import { RecordFormatter, type OutputFormat } from '../src/sinks/output-format.js';
import { ByteOutput } from '../src/sinks/byte-formatter.js';
import { SharedMemory } from '../src/wasm/shared-memory.js';
import { KERNEL_WASM } from '../src/backends/cpu/wasm-kernel.js';
import { FORMAT_WASM } from '../src/sinks/wasm/wasm-formatter.js';
import { LINES_WASM } from '../src/sources/wasm/wasm-lines.js';
import { INVALID_UTF8 } from './helpers/input-classes.js';
import { rng } from './helpers/random.js';

const config = resolveRouterConfig({ numExperts: 5 });
const enc = new TextEncoder();

/** Lines of every awkward kind, CRLF and LF, a last line with or without its LF. */
function chunk(seed: number, lines: number, bom: boolean): Uint8Array {
  const rand = rng(seed);
  const words = ['alpha', 'Beta', 'x=1;', 'naïve', '東京', '🙂', '"q"', '\\', '\t', '\ufeff', ',', 'a\rb', '</script>'];
  const parts: Uint8Array[] = bom ? [Uint8Array.of(0xef, 0xbb, 0xbf)] : [];
  for (let i = 0; i < lines; i++) {
    const r = rand();
    if (r < 0.05) parts.push(new Uint8Array(0));
    else if (r < 0.1) parts.push(INVALID_UTF8[i % INVALID_UTF8.length]);
    else if (r < 0.12) parts.push(enc.encode('L'.repeat(100 + Math.floor(rand() * 3000))));
    else parts.push(enc.encode(Array.from({ length: Math.floor(rand() * 9) }, () => words[Math.floor(rand() * words.length)]).join(' ')));
    if (i < lines - 1 || rand() < 0.5) parts.push(enc.encode(rand() < 0.3 ? '\r\n' : '\n'));
  }
  return Buffer.concat(parts);
}

/** The expected output: split on LF (a CR before it dropped, a BOM at file start skipped), routed by the reference, RecordFormatter. */
function oracle(bytes: Uint8Array, atFileStart: boolean, format: OutputFormat, includeText: boolean, firstIndex: number): { text: string; records: number; perExpert: number[] } {
  let b = Buffer.from(bytes);
  if (atFileStart && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) b = b.subarray(3);
  const records: Buffer[] = [];
  for (let start = 0; start < b.length; ) {
    let nl = b.indexOf(10, start);
    if (nl < 0) nl = b.length;
    const end = nl < b.length && nl > start && b[nl - 1] === 13 ? nl - 1 : nl;
    records.push(b.subarray(start, end));
    start = nl + 1;
  }
  const offsets = new Uint32Array(records.length + 1);
  records.forEach((r, i) => (offsets[i + 1] = offsets[i] + r.length));
  const r = scoreStatistics(config, computeStatistics(Buffer.concat(records), offsets), records.length);
  const f = new RecordFormatter({ format, includeText, errorColumn: false });
  const perExpert = new Array<number>(config.numExperts).fill(0);
  let text = '';
  for (let i = 0; i < records.length; i++) {
    text += f.record(firstIndex + i, r.experts[i], r.scoresQ16[i], r.confidenceQ16[i], includeText ? records[i] : undefined);
    perExpert[r.experts[i]]++;
  }
  return { text, records: records.length, perExpert };
}

function run(lane: FusedLines, bytes: Uint8Array, atFileStart: boolean, firstIndex: number, maxRecordBytes = 1 << 20): { text: string; records: number; perExpert: number[] } | null {
  const packed = lane.pack(bytes, atFileStart, maxRecordBytes);
  if (!packed) return null;
  lane.route(config);
  const parts: Buffer[] = [];
  // a small ByteOutput: the output comes in many pieces
  const out = new ByteOutput((p) => parts.push(Buffer.from(p)), 4096);
  const perExpert = lane.format(out, firstIndex, config.numExperts);
  out.flush();
  return { text: Buffer.concat(parts).toString('utf8'), records: packed.records, perExpert: Array.from(perExpert) };
}

describe('the fused lines lane', () => {
  for (const format of ['jsonl', 'csv', 'tsv'] as const) {
    for (const includeText of [false, true]) {
      it(`${format}${includeText ? ' with the text' : ''}: the reference's records, chunk after chunk on the same memory`, () => {
        const lane = new FusedLines({ format, includeText, errorColumn: false }, { chunkBytes: 1 << 20, records: 1 << 16 });
        let first = 0;
        for (let seed = 1; seed <= 6; seed++) {
          const bytes = chunk(seed, 50 + seed * 300, seed === 1);
          const got = run(lane, bytes, seed === 1, first);
          const want = oracle(bytes, seed === 1, format, includeText, first);
          expect(got).toEqual(want);
          first += want.records;
        }
        // pinned: the oracle is not empty, and some records land on every expert
        expect(first).toBe(6 * 50 + 300 * 21);
      });
    }
  }

  it('a BOM is skipped only at file start; an empty chunk has no record; one LF is one empty record', () => {
    const lane = new FusedLines({ format: 'jsonl', includeText: true, errorColumn: false }, { chunkBytes: 4096, records: 64 });
    const bom = enc.encode('\ufeffhello\n');
    expect(run(lane, bom, true, 0)).toEqual(oracle(bom, true, 'jsonl', true, 0));
    expect(run(lane, bom, false, 7)?.text).toContain('"text":"\ufeffhello"');
    expect(run(lane, new Uint8Array(0), true, 0)).toEqual({ text: '', records: 0, perExpert: [0, 0, 0, 0, 0] });
    expect(run(lane, enc.encode('\n'), false, 3)?.records).toBe(1);
  });

  it('hands the chunk to the general path: too big for its areas, too many records, an over-long line', () => {
    const lane = new FusedLines({ format: 'jsonl', includeText: false, errorColumn: false }, { chunkBytes: 1000, records: 10 });
    expect(lane.pack(new Uint8Array(1001).fill(65), false, 1 << 20)).toBeNull();
    expect(lane.pack(enc.encode('a\n'.repeat(11)), false, 1 << 20)).toBeNull();
    expect(lane.pack(enc.encode('a\n'.repeat(10)), false, 1 << 20)?.records).toBe(10);
    expect(lane.pack(enc.encode('short\nmuch too long\n'), false, 8)).toBeNull();
    // after a refusal nothing is left to route
    expect(() => lane.route(config)).toThrow(/no chunk/);
  });

  it('a shared memory refuses modules whose regions overlap', () => {
    expect(() => new SharedMemory([LINES_WASM, KERNEL_WASM, FORMAT_WASM])).not.toThrow();
    expect(() => new SharedMemory([KERNEL_WASM, KERNEL_WASM])).toThrow(/overlap/);
  });
});
