/** The streaming API with records that carry ids: a text accessor in, the original record back out. */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ConfigError, SwitchedMoE, createRouteStream, routeRecords, type RoutedRecord } from '../src/index.js';
import { rng } from './helpers/random.js';

interface Row {
  id: string;
  body: string;
}

const rand = rng(5);
const rows: Row[] = Array.from({ length: 3000 }, (_, i) => ({ id: `r${i}`, body: ['The', 'fn(x) => x * 2;', 'naïve 東京 🙂', '@#$%^&*', ''][Math.floor(rand() * 5)] + ' '.repeat(i % 3) }));

describe('records with ids', () => {
  it('routeRecords: each routed record carries its original row, with the results of routing its text', async () => {
    const moe = new SwitchedMoE({ backend: 'cpu' });
    const plain = await moe.routeBatch(rows.map((r) => r.body));
    const got: RoutedRecord<Row>[] = [];
    for await (const r of routeRecords(moe, rows, { text: (row) => row.body, batchRecords: 700 })) got.push(r);
    expect(got.map((r) => r.record)).toEqual(rows);
    expect(got.map((r) => r.record?.id)).toEqual(rows.map((r) => r.id));
    expect(got.map((r) => r.expert)).toEqual([...plain.experts]);
    expect(got.map((r) => r.complexity * 65536)).toEqual([...plain.scoresQ16]);
  });

  it('createRouteStream: a typed async iterator over a pipe of objects, in order', async () => {
    const moe = new SwitchedMoE({ backend: 'cpu' });
    const stream = createRouteStream<Row>(moe, { text: (row) => row.body, batchRecords: 512 });
    Readable.from(rows).pipe(stream);
    const ids: string[] = [];
    for await (const r of stream) ids.push((r.record as Row).id);
    expect(ids).toEqual(rows.map((r) => r.id));
  });

  it('an accessor that gives no text, or objects without one, are a ConfigError with a code, naming the record', async () => {
    const moe = new SwitchedMoE({ backend: 'cpu' });
    const bad = routeRecords(moe, [{ id: 1 }, { id: 2 }], { text: (r) => (r.id === 2 ? (42 as unknown as string) : 'ok') });
    await expect(async () => {
      for await (const _ of bad) void _;
    }).rejects.toMatchObject({ name: 'ConfigError', code: 'CONFIG', message: expect.stringContaining('for record 1') });
    const objects = routeRecords(moe, [{ id: 1 }] as unknown as string[]);
    await expect(async () => {
      for await (const _ of objects) void _;
    }).rejects.toThrow(ConfigError);
    expect(() => createRouteStream(moe, { text: 'body' as unknown as (r: string) => string })).toThrow(/text must be a function/);
  });
});
