/**
 * The workers' positioned reads: ranges of any size that tile a real file
 * give every line exactly once, in order (a line belongs to the range its
 * first byte is in), and their input bytes add up to the file; an over-long
 * line is read only up to one byte past the limit.
 */
import { closeSync, fstatSync, openSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { LineRangeReader, type RangeLines } from '../src/sources/line-ranges.js';
import { rng } from './helpers/random.js';
import { tempDir } from './helpers/cli.js';

const tmp = tempDir('moe-line-ranges-');
afterAll(() => tmp.cleanup());

/** Reads [start, end) of `path` in ranges of the sizes given, as the parallel path does. */
function tile(path: string, start: number, end: number | null, size: () => number, max = 1 << 30, initialBytes?: number): RangeLines[] {
  const fd = openSync(path, 'r');
  try {
    const reader = new LineRangeReader(fd, max, initialBytes);
    const out: RangeLines[] = [];
    for (let pos = start; ; ) {
      const n = size();
      const got = reader.read({ start: pos, end: pos + n, inputStart: start, limit: end ?? Infinity });
      out.push({ ...got, bytes: got.bytes.slice() });
      pos += n;
      // as the parallel path: every range up to the size, then on until one meets the end of the file
      if (end !== null ? pos >= end : pos >= fstatSync(fd).size && got.eof) break;
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

describe('LineRangeReader', () => {
  it('tiles a file into whole lines, each once, whatever the range sizes', () => {
    const rand = rng(11);
    for (let trial = 0; trial < 80; trial++) {
      const lines = Array.from({ length: Math.floor(rand() * 200) }, () => 'y'.repeat(Math.floor(rand() * (rand() < 0.05 ? 3000 : 60))));
      const text = lines.join(rand() < 0.3 ? '\r\n' : '\n') + (rand() < 0.5 ? '\n' : '');
      const path = tmp.path(`t${trial}.txt`);
      writeFileSync(path, text);
      const maxRange = 1 + Math.floor(rand() * 400);
      const got = tile(path, 0, null, () => 1 + Math.floor(rand() * maxRange), 1 << 30, 16);
      expect(Buffer.concat(got.map((g) => g.bytes)).toString()).toBe(text);
      expect(got.reduce((n, g) => n + g.inputBytes, 0)).toBe(Buffer.byteLength(text));
      // whole lines: only a range that met the end of the file may end without an LF
      for (const g of got) if (g.bytes.length > 0 && !g.eof) expect(g.bytes[g.bytes.length - 1]).toBe(10);
      expect(got[got.length - 1].eof).toBe(true);
    }
  });

  it('reads into a buffer it is given when the range fits, else into its own: the same lines either way', () => {
    const rand = rng(5);
    const text = Array.from({ length: 400 }, () => 'z'.repeat(Math.floor(rand() * (rand() < 0.05 ? 3000 : 40)))).join('\n') + '\n';
    const path = tmp.path('into.txt');
    writeFileSync(path, text);
    const fd = openSync(path, 'r');
    try {
      const reader = new LineRangeReader(fd, 1 << 30, 16);
      // the reader asks for room for a range plus 64 KiB to read on to its last line's end
      const memory = new ArrayBuffer((64 << 10) + 2048);
      const into = new Uint8Array(memory, 256, (64 << 10) + 1024);
      const parts: Buffer[] = [];
      let inside = 0;
      let outside = 0;
      for (let pos = 0; pos < text.length; pos += 300) {
        const got = reader.read({ start: pos, end: pos + 300, inputStart: 0, limit: Infinity }, into);
        if (got.bytes.buffer === memory) {
          expect(got.bytes.byteOffset).toBe(256);
          inside++;
        } else outside++;
        parts.push(Buffer.from(got.bytes));
      }
      expect(Buffer.concat(parts).toString()).toBe(text);
      // both happened: most ranges fit the buffer given, some ending in a long line did not
      expect(inside).toBeGreaterThan(10);
      expect(outside).toBeGreaterThan(0);
    } finally {
      closeSync(fd);
    }
  });

  it('reads a part [start, end) that begins and ends on line boundaries, never past its end', () => {
    const path = tmp.path('part.txt');
    writeFileSync(path, 'aa\nbbb\ncccc\ndd\n');
    for (const size of [1, 2, 3, 5, 100]) {
      const got = tile(path, 3, 12, () => size);
      expect(Buffer.concat(got.map((g) => g.bytes)).toString()).toBe('bbb\ncccc\n');
      expect(got.reduce((n, g) => n + g.inputBytes, 0)).toBe(9);
    }
  });

  it('keeps only the head of an over-long line (limit + 1 bytes), and the next ranges skip its tail', () => {
    const path = tmp.path('long.txt');
    writeFileSync(path, 'ok\n' + 'z'.repeat(100_000) + '\nafter\n');
    const got = tile(path, 0, null, () => 4096, 1000, 64);
    expect(Buffer.concat(got.map((g) => g.bytes)).toString()).toBe('ok\n' + 'z'.repeat(1001) + 'after\n');
    expect(got.reduce((n, g) => n + g.inputBytes, 0)).toBe(100_000 + 10);
  });

  it('says eof for a range past the end, and gives nothing for it', () => {
    const path = tmp.path('short.txt');
    writeFileSync(path, 'one\ntwo\n');
    const fd = openSync(path, 'r');
    const reader = new LineRangeReader(fd, 1 << 20);
    expect(reader.read({ start: 0, end: 8, inputStart: 0, limit: Infinity })).toMatchObject({ inputBytes: 8, eof: false });
    const past = reader.read({ start: 8, end: 16, inputStart: 0, limit: Infinity });
    expect([past.bytes.length, past.inputBytes, past.eof]).toEqual([0, 0, true]);
    closeSync(fd);
  });
});
