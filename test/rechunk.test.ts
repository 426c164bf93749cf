/**
 * The parallel path's chunker: chunks of whole lines, nothing lost or
 * duplicated, whatever the sizes of the pieces it is fed; over-long lines are
 * cut and the rest of them dropped up to the next LF.
 */
import { describe, expect, it } from 'vitest';
import { cutNear, lineAlignedChunks, type Chunk } from '../src/sources/rechunk.js';
import { rng } from './helpers/random.js';

async function chunks(input: Uint8Array, pieceSizes: () => number, target: number, max = 1 << 30): Promise<Chunk[]> {
  async function* pieces(): AsyncGenerator<Uint8Array> {
    for (let at = 0; at < input.length; ) {
      const n = Math.min(input.length - at, pieceSizes());
      yield input.slice(at, at + n);
      at += n;
    }
  }
  const out: Chunk[] = [];
  for await (const c of lineAlignedChunks(pieces(), target, max, () => false)) out.push(c);
  return out;
}

describe('lineAlignedChunks', () => {
  it('gives back every byte once, in order, cut only after an LF, near the target size', async () => {
    const rand = rng(7);
    for (let trial = 0; trial < 60; trial++) {
      const lines = Array.from({ length: Math.floor(rand() * 300) }, () => 'x'.repeat(Math.floor(rand() * (rand() < 0.05 ? 5000 : 80))));
      const text = lines.join('\n') + (rand() < 0.5 ? '\n' : '');
      const input = new TextEncoder().encode(text);
      const target = 1 + Math.floor(rand() * 2000);
      const got = await chunks(input, () => 1 + Math.floor(rand() * 3000), target);
      expect(Buffer.concat(got.map((c) => c.bytes)).equals(Buffer.from(input))).toBe(true);
      for (const [i, c] of got.entries()) {
        expect(c.skippedBytes).toBe(0);
        if (i < got.length - 1) expect(c.bytes[c.bytes.length - 1]).toBe(10);
        // a chunk is longer than the target only to finish the line that crosses it
        if (c.bytes.length > target) expect(c.bytes.subarray(0, target - 1).includes(10)).toBe(false);
      }
    }
  });

  it('cuts a line longer than the limit after the limit and drops the rest up to its LF, counting it', async () => {
    const input = new TextEncoder().encode('ok\n' + 'z'.repeat(10_000) + '\nafter\n');
    const got = await chunks(input, () => 700, 100, 1000);
    const kept = got.reduce((n, c) => n + c.bytes.length, 0);
    const skipped = got.reduce((n, c) => n + c.skippedBytes, 0);
    expect(kept + skipped).toBe(input.length);
    expect(Buffer.concat(got.map((c) => c.bytes)).toString()).toMatch(/^ok\nz{1001,}after\n$/);
  });

  it('cutNear finds the LF before the target across pieces, or the first after it', () => {
    const p = (s: string): Uint8Array => new TextEncoder().encode(s);
    expect(cutNear([p('ab\ncd'), p('ef\ngh')], 6)).toBe(3);
    expect(cutNear([p('ab\ncd'), p('ef\ngh')], 9)).toBe(8);
    expect(cutNear([p('abcd'), p('efgh\nij')], 2)).toBe(9);
    expect(cutNear([p('abcd')], 2)).toBe(-1);
  });
});
