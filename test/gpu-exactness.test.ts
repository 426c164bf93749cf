/**
 * GPU == CPU, bit for bit: statistics, score, expert and confidence of every
 * string, over every input class and every splitting boundary the GPU path
 * has. Data-driven: each case is a batch plus the plan limits it runs under.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { SwitchedMoE, packStrings, type PackedBatch, type PlanLimits } from '../src/index.js';
import { describeGpu } from './helpers/gpu.js';
import { expectIdenticalRouting } from './helpers/exact.js';
import { packBytes, randomBytes, randomInt, randomText, rng } from './helpers/random.js';
import { AWKWARD, INVALID_UTF8, byteSoupEveryLength as byteSoup, textEveryLength as textOfEveryLength } from './helpers/input-classes.js';

const routers = new Map<string, SwitchedMoE>();
function router(limits: Partial<PlanLimits> = {}, options: { numExperts?: number } = {}): SwitchedMoE {
  const key = JSON.stringify([limits, options]);
  let moe = routers.get(key);
  if (!moe) {
    moe = new SwitchedMoE({ ...options, backend: 'gpu', gpu: { planLimits: limits } });
    routers.set(key, moe);
  }
  return moe;
}
afterAll(async () => {
  for (const moe of routers.values()) await moe.dispose();
});

async function expectExact(batch: readonly string[] | PackedBatch, label: string, limits: Partial<PlanLimits> = {}, numExperts = 3): Promise<void> {
  const moe = router(limits, { numExperts });
  const gpu = await moe.routeBatch(batch, { backend: 'gpu', includeStats: true });
  const cpu = await moe.routeBatch(batch, { backend: 'cpu', includeStats: true });
  expectIdenticalRouting(gpu, cpu, label);
}

const byteSoupEveryLength = byteSoup(3000);
const textEveryLength = textOfEveryLength(3000);
const awkward = AWKWARD;
const invalidUtf8 = INVALID_UTF8;

describeGpu('GPU and CPU agree bit for bit', () => {
  it('on random byte soup (invalid UTF-8, NUL, controls) of every length 0..3000', async () => {
    await expectExact(byteSoupEveryLength, 'byte soup');
  });

  it('on random text of every UTF-8 length 0..3000 (CJK, emoji, combining marks, RTL, CR/LF, tabs)', async () => {
    await expectExact(textEveryLength, 'text');
  });

  it('on awkward strings and invalid UTF-8', async () => {
    await expectExact(awkward, 'awkward');
    await expectExact(packBytes(invalidUtf8), 'invalid UTF-8');
  });

  it.each([0, 1, 2, 63, 64, 65, 127, 128, 129, 4095, 4096, 4097])('on a batch of %i strings', async (n) => {
    const rr = rng(n);
    await expectExact(Array.from({ length: n }, () => randomText(rr, 12)), `batch of ${n}`);
  });

  // Small limits force every split the planner makes: strings cut into many
  // chunks, windows flushed mid-string (the previous byte crossing over),
  // groups of strings, and 2D dispatch grids for both kernels.
  const mixed = (): PackedBatch => {
    const rr = rng(99);
    const parts: Uint8Array[] = [];
    for (let i = 0; i < 700; i++) {
      parts.push(i % 3 === 0 ? randomBytes(rr, randomInt(rr, 300)) : Buffer.from(randomText(rr, i % 50)));
    }
    return packBytes(parts);
  };
  it.each<[string, Partial<PlanLimits>]>([
    ['tiny chunks', { chunkBytes: 1 }],
    ['odd chunks', { chunkBytes: 7 }],
    ['small windows', { windowBytes: 64, chunkBytes: 13 }],
    ['window smaller than a chunk', { windowBytes: 8, chunkBytes: 64 }],
    ['few items per window', { itemsPerWindow: 5, chunkBytes: 11 }],
    ['tiny groups', { stringsPerGroup: 3 }],
    ['groups of 64', { stringsPerGroup: 64 }],
    ['2D grids', { workgroupsPerDimension: 3 }],
    ['2D grids, 1 per dimension edge', { workgroupsPerDimension: 2, stringsPerGroup: 200, chunkBytes: 5 }],
    ['everything small', { chunkBytes: 3, windowBytes: 40, itemsPerWindow: 9, stringsPerGroup: 17, workgroupsPerDimension: 2 }],
  ])('across plan boundaries: %s', async (label, limits) => {
    await expectExact(mixed(), label, limits);
  });

  it('with many experts and explicit boundaries', async () => {
    await expectExact(textEveryLength.slice(0, 500), '64 experts', {}, 64);
    const moe = new SwitchedMoE({ boundaries: [0.05, 0.1, 0.3, 0.31, 0.9], backend: 'gpu' });
    try {
      const gpu = await moe.routeBatch(textEveryLength, { includeStats: true });
      const cpu = await moe.routeBatch(textEveryLength, { backend: 'cpu', includeStats: true });
      expectIdenticalRouting(gpu, cpu, 'explicit boundaries');
      expect(new Set(gpu.experts).size).toBeGreaterThan(2);
    } finally {
      await moe.dispose();
    }
  });

  it('on one string of tens of MB, also split across upload windows', async () => {
    const rr = rng(5);
    const big = randomBytes(rr, 24 * 1024 * 1024 + 3);
    for (let i = 0; i < big.length; i += 1 + randomInt(rr, 40)) big[i] = 0x20; // give it tokens
    const batch = packBytes([Buffer.from('short'), big, Buffer.from('after')]);
    await expectExact(batch, '24 MiB string');
    await expectExact(batch, '24 MiB string in 5 MiB windows', { windowBytes: 5 * 1024 * 1024 + 4 });
  });

  it('on more strings than 65535 x the workgroup size', async () => {
    const rr = rng(6);
    const n = 65535 * 64 + 1000;
    const offsets = new Uint32Array(n + 1);
    for (let i = 0; i < n; i++) offsets[i + 1] = offsets[i] + randomInt(rr, 9);
    const bytes = randomBytes(rr, offsets[n]);
    await expectExact({ bytes, offsets }, `${n} strings`);
  });

  it('on a few hundred thousand lines of real text and code', async () => {
    // The TypeScript compiler's sources and declarations, and every README in node_modules.
    const require = createRequire(import.meta.url);
    const tsLib = dirname(require.resolve('typescript'));
    const files = readdirSync(tsLib).filter((f) => f.endsWith('.d.ts') || f === 'typescript.js').map((f) => join(tsLib, f));
    const corpus = Buffer.concat(files.map((f) => readFileSync(f)));
    const lines = corpus.toString('latin1').split('\n').length;
    expect(lines).toBeGreaterThan(200_000);
    // Split on \n without creating strings: the packed form a pipeline would use.
    const offsets: number[] = [0];
    for (let i = corpus.indexOf(10); i !== -1; i = corpus.indexOf(10, i + 1)) offsets.push(i + 1);
    offsets.push(corpus.length);
    const batch = { bytes: new Uint8Array(corpus.buffer, corpus.byteOffset, corpus.length), offsets: Uint32Array.from(offsets) };
    await expectExact(batch, 'real text and code');
  });
});

describeGpu('packed batches', () => {
  it('route the same as the strings they encode', async () => {
    const moe = router();
    const texts = textEveryLength.slice(0, 300);
    const fromStrings = await moe.routeBatch(texts);
    const fromPacked = await moe.routeBatch(packStrings(texts));
    expect(Array.from(fromPacked.scoresQ16)).toEqual(Array.from(fromStrings.scoresQ16));
    expect(fromPacked.backend).toBe('gpu');
  });
});
