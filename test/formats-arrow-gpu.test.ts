/** An Arrow column routed zero-copy on the GPU gives the CPU's bits (the packed batch is a view into Arrow's buffers). */
import { Utf8, vectorFromArray } from 'apache-arrow';
import { expect, it } from 'vitest';
import { packedFromArrow, SwitchedMoE } from '../src/index.js';
import { describeGpu } from './helpers/gpu.js';
import { randomText, rng } from './helpers/random.js';

describeGpu('packedFromArrow on the GPU', () => {
  it('a sliced Utf8 column (bytes a view at an offset of a larger buffer) routes bit for bit as on the CPU', async () => {
    const r = rng(3);
    const texts = Array.from({ length: 3000 }, (_, i) => (i % 7 === 0 ? null : randomText(r, 30)));
    const v = vectorFromArray(texts, new Utf8()).slice(101, 2950);
    const packed = packedFromArrow(v);
    expect(packed.bytes.byteOffset).toBeGreaterThan(0);
    const moe = new SwitchedMoE({ backend: 'gpu' });
    try {
      const gpu = await moe.routeBatch(packed, { backend: 'gpu' });
      const cpu = await moe.routeBatch(texts.slice(101, 2950).map((t) => t ?? ''), { backend: 'cpu' });
      expect(gpu.backend).toBe('gpu');
      expect([...gpu.scoresQ16]).toEqual([...cpu.scoresQ16]);
      expect([...gpu.experts]).toEqual([...cpu.experts]);
      expect([...gpu.confidenceQ16]).toEqual([...cpu.confidenceQ16]);
    } finally {
      await moe.dispose();
    }
  });
});
