/** The streaming API: createRouteStream (Transform) and routeRecords (async generator). */
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { SwitchedMoE, createRouteStream, routeRecords, type RoutedRecord } from '../src/index.js';

const moe = new SwitchedMoE({ backend: 'cpu' });
afterAll(() => moe.dispose());

const texts = Array.from({ length: 2500 }, (_, i) => (i % 7 === 0 ? '' : `text ${i} ${'Ab1;'.repeat(i % 13)}`));

async function expected(): Promise<RoutedRecord[]> {
  const r = await moe.routeBatch(texts);
  return texts.map((_, i) => ({ index: i, expert: r.experts[i], complexity: r.scoresQ16[i] / 65536, confidence: r.confidenceQ16[i] / 65536 }));
}

describe('createRouteStream', () => {
  it('routes strings and Buffers in order, equal to routeBatch', async () => {
    const got: RoutedRecord[] = [];
    await pipeline(
      Readable.from(texts.map((t, i) => (i % 2 ? Buffer.from(t) : t))),
      createRouteStream(moe, { batchRecords: 300 }),
      new Writable({
        objectMode: true,
        write(rec: RoutedRecord, _e, cb) {
          got.push(rec);
          cb();
        },
      }),
    );
    expect(got).toEqual(await expected());
  });

  it('includeText returns the text', async () => {
    const got: RoutedRecord[] = [];
    const s = createRouteStream(moe, { includeText: true, batchRecords: 2 });
    s.on('data', (r: RoutedRecord) => got.push(r));
    const done = new Promise((r) => s.on('end', r));
    for (const t of ['a', 'ü b', '']) s.write(t);
    s.end();
    await done;
    expect(got.map((r) => r.text)).toEqual(['a', 'ü b', '']);
  });

  it('backpressure: a slow consumer keeps the producer close behind (bounded buffering)', async () => {
    let produced = 0;
    let consumed = 0;
    let maxAhead = 0;
    const total = 20_000;
    const source = Readable.from(
      (function* () {
        for (let i = 0; i < total; i++) {
          produced++;
          yield `record ${i}`;
        }
      })(),
      { highWaterMark: 16 },
    );
    await pipeline(
      source,
      createRouteStream(moe, { batchRecords: 256, highWaterMark: 64 }),
      new Writable({
        objectMode: true,
        highWaterMark: 16,
        write(_rec: RoutedRecord, _e, cb) {
          consumed++;
          maxAhead = Math.max(maxAhead, produced - consumed);
          if (consumed % 500 === 0) setTimeout(cb, 5);
          else cb();
        },
      }),
    );
    expect(consumed).toBe(total);
    // buffers: source 16 + batch being filled 256 + routed batches (2 x 256) + readable 64 + writable 16
    expect(maxAhead).toBeLessThan(1500);
  });

  it('rejects values that are not records', async () => {
    const s = createRouteStream(moe);
    const err = new Promise<Error>((r) => s.on('error', r));
    s.write(42 as unknown as string);
    expect((await err).message).toContain('strings, Buffers or Uint8Arrays');
  });
});

describe('routeRecords', () => {
  it('routes an async iterable in order', async () => {
    async function* src(): AsyncGenerator<string> {
      for (const t of texts) yield t;
    }
    const got: RoutedRecord[] = [];
    for await (const r of routeRecords(moe, src(), { batchRecords: 333 })) got.push(r);
    expect(got).toEqual(await expected());
  });

  it('routes a plain array too', async () => {
    const got: RoutedRecord[] = [];
    for await (const r of routeRecords(moe, ['x', 'y'])) got.push(r);
    expect(got.map((r) => r.index)).toEqual([0, 1]);
  });
});
