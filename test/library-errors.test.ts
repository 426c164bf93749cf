/**
 * Wrong input to the library is a typed ConfigError (code 'CONFIG') naming
 * what was given, the same on every backend, in every entry point (routeBatch,
 * routeRecords, createRouteStream); bytes in shared memory are routed
 * everywhere, with the same bits.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, createRouteStream, routeRecords, SwitchedMoE, type Backend, type RoutedRecord } from '../src/index.js';
import { describeGpu } from './helpers/gpu.js';

const texts = ['The', 'Python', 'Programming', 'AI and ML', '@#$%^&*', 'fn(x) => x * 2; // ünïcode'];
// the notebook's routing of these texts with 3 experts (see the README): pinned, not derived
const GOLDEN_EXPERTS = [0, 1, 1, 1, 2, 2];

async function configError(p: Promise<unknown>): Promise<ConfigError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as ConfigError).code).toBe('CONFIG');
  return err as ConfigError;
}

async function collect(it: AsyncIterable<RoutedRecord>): Promise<RoutedRecord[]> {
  const out: RoutedRecord[] = [];
  for await (const r of it) out.push(r);
  return out;
}

function sharedBytes(strings: readonly string[]): { bytes: Uint8Array; offsets: Uint32Array } {
  const enc = strings.map((s) => new TextEncoder().encode(s));
  const total = enc.reduce((a, b) => a + b.length, 0);
  // the bytes start inside the shared buffer, not at 0, as a worker's slice of a ring buffer would
  const bytes = new Uint8Array(new SharedArrayBuffer(total + 7), 3, total);
  const offsets = new Uint32Array(new SharedArrayBuffer(4 * (strings.length + 1)));
  let at = 0;
  enc.forEach((e, i) => {
    bytes.set(e, at);
    at += e.length;
    offsets[i + 1] = at;
  });
  return { bytes, offsets };
}

function suite(backend: Backend): void {
  it('routeBatch(null), (undefined), (a string), (a number) and ([a, 5]): ConfigError naming what was given', async () => {
    const moe = new SwitchedMoE({ backend });
    const bad = moe.routeBatch.bind(moe) as (x: unknown) => Promise<unknown>;
    expect((await configError(bad(null))).message).toMatch(/routeBatch takes an array of strings or a packed batch .*, got null/);
    expect((await configError(bad(undefined))).message).toMatch(/got undefined/);
    expect((await configError(bad('abc'))).message).toMatch(/got a string/);
    expect((await configError(bad(42))).message).toMatch(/got a number/);
    expect((await configError(bad({ bytes: [1, 2], offsets: [0, 2] }))).message).toMatch(/packed batch/);
    expect((await configError(bad(['a', 5]))).message).toMatch(/texts\[1\] is a number \(5\), not a string/);
    expect((await configError(bad(['a', null]))).message).toMatch(/texts\[1\] is null, not a string/);
    await moe.dispose();
  });

  it('options that are not an object, and an object that is not a packed batch (a Set): ConfigError', async () => {
    const moe = new SwitchedMoE({ backend });
    const bad = moe.routeBatch.bind(moe) as (x: unknown, o?: unknown) => Promise<unknown>;
    expect((await configError(bad(['a'], null))).message).toMatch(/routeBatch options must be an object, got null/);
    expect((await configError(bad(['a'], 'gpu'))).message).toMatch(/got a string "gpu"/);
    expect((await configError(bad(new Set(['a'])))).message).toMatch(/routeBatch takes an array of strings or a packed batch .*, got a Set/);
    const rr = routeRecords as (m: SwitchedMoE, src: unknown, o: unknown) => AsyncGenerator<RoutedRecord>;
    expect((await configError(collect(rr(moe, ['a'], null)))).message).toMatch(/routeRecords options must be an object, got null/);
    const cs = createRouteStream as (m: SwitchedMoE, o: unknown) => unknown;
    expect(() => cs(moe, 5)).toThrow(/createRouteStream options must be an object, got a number \(5\)/);
    expect(() => cs(moe, 5)).toThrow(ConfigError);
    await moe.dispose();
  });

  it('routeRecords(moe, [a, 5]) and ([a, null]): ConfigError naming the record', async () => {
    const moe = new SwitchedMoE({ backend });
    const err = await configError(collect(routeRecords(moe, ['a', 5] as unknown as string[], { backend })));
    expect(err.message).toMatch(/record 1 is a number \(5\), not a string, Buffer or Uint8Array/);
    const err2 = await configError(collect(routeRecords(moe, ['a', 'b', {}] as unknown as string[], { backend })));
    expect(err2.message).toMatch(/record 2 is an object/);
    await moe.dispose();
  });

  it('routeRecords of something that is not an iterable of records (null, a string): ConfigError', async () => {
    const moe = new SwitchedMoE({ backend });
    const rr = routeRecords as (m: SwitchedMoE, src: unknown, o: object) => AsyncGenerator<RoutedRecord>;
    expect((await configError(collect(rr(moe, null, { backend })))).message).toMatch(/routeRecords takes an iterable or async iterable of records, got null/);
    // a string is iterable (by characters): routing its characters as records would be silently wrong
    expect((await configError(collect(rr(moe, 'abc', { backend })))).message).toMatch(/got a string "abc"/);
    await moe.dispose();
  });

  it('createRouteStream: writing a number or an object fails the stream with a ConfigError', async () => {
    const moe = new SwitchedMoE({ backend });
    for (const [value, what] of [[5, 'a number (5)'], [{ text: 'x' }, 'an object'], [true, 'a boolean']] as const) {
      const s = createRouteStream(moe, { backend });
      const failed = new Promise<unknown>((resolve) => s.on('error', resolve));
      s.on('data', () => undefined);
      s.write('fine');
      s.write(value as unknown as string);
      const err = await failed;
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).code).toBe('CONFIG');
      expect((err as Error).message).toContain(`record 1 is ${what}`);
    }
    await moe.dispose();
  });

  it('bytes and offsets in a SharedArrayBuffer are routed, with the golden experts', async () => {
    const moe = new SwitchedMoE({ backend });
    const r = await moe.routeBatch(sharedBytes(texts), { backend });
    expect(r.backend).toBe(backend);
    expect(Array.from(r.experts)).toEqual(GOLDEN_EXPERTS);
    const plain = await moe.routeBatch(texts, { backend });
    expect(Array.from(r.scoresQ16)).toEqual(Array.from(plain.scoresQ16));
    // through the streaming API too: one shared view per record
    const records = texts.map((t) => {
      const e = new TextEncoder().encode(t);
      const v = new Uint8Array(new SharedArrayBuffer(e.length + 1), 1, e.length);
      v.set(e);
      return v;
    });
    const routed = await collect(routeRecords(moe, records, { backend }));
    expect(routed.map((x) => x.expert)).toEqual(GOLDEN_EXPERTS);
    await moe.dispose();
  });
}

describeGpu('SharedArrayBuffer on the GPU, over many upload windows', () => {
  it('gives the CPU reference bits, window by window (long strings cross windows)', async () => {
    const rand = (() => {
      let x = 12345;
      return () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32);
    })();
    const alphabet = 'aZ 9;é€😀\u0000x';
    const strings = Array.from({ length: 3000 }, (_, i) =>
      Array.from({ length: i % 97 === 0 ? 5000 : Math.floor(rand() * 60) }, () => alphabet[Math.floor(rand() * alphabet.length)]).join(''),
    );
    const shared = sharedBytes(strings);
    const gpu = new SwitchedMoE({ backend: 'gpu', gpu: { planLimits: { windowBytes: 4096, chunkBytes: 256 } } });
    const cpu = new SwitchedMoE({ backend: 'cpu' });
    const g = await gpu.routeBatch(shared, { includeStats: true });
    const c = await cpu.routeBatch(strings, { includeStats: true });
    expect(g.backend).toBe('gpu');
    expect(Buffer.from(g.stats!.buffer).equals(Buffer.from(c.stats!.buffer))).toBe(true);
    expect(Buffer.from(g.scoresQ16.buffer).equals(Buffer.from(c.scoresQ16.buffer))).toBe(true);
    expect(Buffer.from(g.experts.buffer).equals(Buffer.from(c.experts.buffer))).toBe(true);
    await gpu.dispose();
  });
});

describe('constructor', () => {
  it.each([[null], ['x'], [3]])('new SwitchedMoE(%j): ConfigError', (options) => {
    expect(() => new SwitchedMoE(options as never)).toThrow(ConfigError);
    expect(() => new SwitchedMoE(options as never)).toThrow(/SwitchedMoE options must be an object/);
  });
});

describe('CPU backend', () => suite('cpu'));
describeGpu('GPU backend (real adapter)', () => suite('gpu'));
