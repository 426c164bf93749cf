/**
 * The fast CPU kernels (WebAssembly and plain JavaScript) == the reference,
 * bit for bit: expert, score and confidence of every string, over the input
 * classes of the engine tests, many router configurations and every window
 * boundary the WebAssembly host has (forced tiny through its options).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CpuBackend, createKernel, routeInto, type FastKernel } from '../src/backends/cpu/cpu-backend.js';
import { JsKernel } from '../src/backends/cpu/js-kernel.js';
import { WasmKernel } from '../src/backends/cpu/wasm-kernel.js';
import { CpuReferenceBackend } from '../src/backends/cpu-reference/reference-backend.js';
import { scoreStatistics } from '../src/backends/cpu-reference/score.js';
import { computeStatistics } from '../src/backends/cpu-reference/statistics.js';
import { instantiate, type ModuleExports } from '../src/wasm/instance.js';
import { ConfigError } from '../src/errors.js';
import { packStrings, type PackedBatch } from '../src/model/packed-batch.js';
import { resolveRouterConfig, type RouterConfig, type RouterOptions } from '../src/model/router-config.js';
import { packBytes, randomBytes, randomInt, randomText, rng } from './helpers/random.js';
import { AWKWARD, INVALID_UTF8, byteSoupEveryLength as byteSoup, textEveryLength as textOfEveryLength } from './helpers/input-classes.js';

const byteSoupEveryLength = byteSoup(699);
const textEveryLength = textOfEveryLength(700);
const awkward = AWKWARD;
const invalidUtf8 = INVALID_UTF8;
const allBytes = Uint8Array.from({ length: 256 }, (_, b) => b);
const eachByte = packBytes([allBytes, allBytes.slice().reverse(), ...Array.from(allBytes, (b) => Uint8Array.of(b, b, 0x20, b))]);
const mixed = (seed: number, n: number): PackedBatch => {
  const rr = rng(seed);
  const parts: Uint8Array[] = [];
  for (let i = 0; i < n; i++) parts.push(i % 3 === 0 ? randomBytes(rr, randomInt(rr, 300)) : Buffer.from(randomText(rr, i % 50)));
  return packBytes(parts);
};

const INPUTS: [string, PackedBatch][] = [
  ['empty batch', packStrings([])],
  ['awkward strings', packStrings(awkward)],
  ['invalid UTF-8', packBytes(invalidUtf8)],
  ['all 256 byte values', eachByte],
  ['byte soup of every length 0..699', byteSoupEveryLength],
  ['text of every UTF-8 length 0..700', packStrings(textEveryLength)],
  ['mixed random text and bytes', mixed(99, 2000)],
];

const CONFIGS: [string, RouterOptions][] = [
  ['3 experts (default)', {}],
  ['1 expert', { numExperts: 1 }],
  ['2 experts', { numExperts: 2 }],
  ['17 experts', { numExperts: 17 }],
  // The default boundaries repeat beyond 100 experts, so 1024 experts take explicit ones.
  ['1024 experts', { boundaries: Array.from({ length: 1023 }, (_, k) => (k + 1) / 1024) }],
  ['explicit boundaries, custom weights and caps', { boundaries: [0.05, 0.1, 0.3, 0.31, 0.9], weights: { length: 2, mixing: 1 }, caps: { length: 100, tokenLength: 3 } }],
  ['mean token length only, cap 1', { weights: { length: 0, tokenLength: 1, tokens: 0, punctuation: 0, digits: 0, uppercase: 0, nonAscii: 0, control: 0, diversity: 0, mixing: 0 }, caps: { tokenLength: 1 } }],
  ['largest caps', { caps: { length: 65535, tokenLength: 65535, tokens: 65535, diversity: 65535 }, numExperts: 5 }],
];

// Window sizes that put a boundary inside, between and around records, and records longer than a window.
const KERNELS: [string, () => FastKernel][] = [
  ['wasm', () => new WasmKernel()],
  ['wasm, 1-byte windows of 1 record', () => new WasmKernel({ windowBytes: 1, windowRecords: 1 })],
  ['wasm, 7-byte windows of 3 records', () => new WasmKernel({ windowBytes: 7, windowRecords: 3 })],
  ['wasm, 64-byte windows', () => new WasmKernel({ windowBytes: 64 })],
  ['wasm, 1000 records per window', () => new WasmKernel({ windowRecords: 1000 })],
  ['js', () => new JsKernel()],
];

interface Routing {
  experts: Uint32Array;
  scoresQ16: Uint32Array;
  confidenceQ16: Uint32Array;
}

function reference(batch: PackedBatch, config: RouterConfig): Routing {
  return scoreStatistics(config, computeStatistics(batch.bytes, batch.offsets), batch.offsets.length - 1);
}

function fast(kernel: FastKernel, batch: PackedBatch, config: RouterConfig): Routing {
  const n = batch.offsets.length - 1;
  // Filled with a marker so that a record the kernel skipped cannot match by accident.
  const out = { experts: new Uint32Array(n).fill(0xdead), scoresQ16: new Uint32Array(n).fill(0xdead), confidenceQ16: new Uint32Array(n).fill(0xdead) };
  kernel.routeInto(batch.bytes, batch.offsets, n, config, out);
  return out;
}

function expectSame(got: Routing, want: Routing, label: string): void {
  for (const key of ['experts', 'scoresQ16', 'confidenceQ16'] as const) {
    expect(got[key].length, label).toBe(want[key].length);
    for (let i = 0; i < want[key].length; i++) {
      if (got[key][i] !== want[key][i]) expect.fail(`${label}: ${key}[${i}] is ${got[key][i]}, the reference says ${want[key][i]}`);
    }
  }
}

// The reference's answers, computed once per (configuration, input) and shared by every kernel.
const CONFIG_OBJECTS = new Map(CONFIGS.map(([label, options]) => [label, resolveRouterConfig(options)]));
const referenceCache = new Map<string, Routing>();
function cachedReference(configLabel: string, inputLabel: string, batch: PackedBatch): Routing {
  const key = `${configLabel}\n${inputLabel}`;
  let r = referenceCache.get(key);
  if (!r) {
    r = reference(batch, CONFIG_OBJECTS.get(configLabel)!);
    referenceCache.set(key, r);
  }
  return r;
}

describe.each(KERNELS)('the %s kernel equals the reference', (_name, make) => {
  const kernel = make();
  it.each(CONFIGS)('with %s, on every input class', (label) => {
    const config = CONFIG_OBJECTS.get(label)!;
    for (const [inputLabel, batch] of INPUTS) {
      expectSame(fast(kernel, batch, config), cachedReference(label, inputLabel, batch), `${label} / ${inputLabel}`);
    }
  });

  it('on random batches of every size 0..300, switching configurations between calls', () => {
    const configs = CONFIGS.map(([, o]) => resolveRouterConfig(o));
    const rr = rng(31);
    for (let n = 0; n <= 300; n += 1 + randomInt(rr, 9)) {
      const batch = packStrings(Array.from({ length: n }, () => randomText(rr, 12)));
      const config = configs[n % configs.length];
      expectSame(fast(kernel, batch, config), reference(batch, config), `batch of ${n}`);
    }
  });
});

describe('the fast kernels, beyond the input classes', () => {
  it('route a string longer than the default 4 MiB window, between short ones', () => {
    const rr = rng(5);
    const big = randomBytes(rr, 9 * 1024 * 1024 + 3);
    for (let i = 0; i < big.length; i += 1 + randomInt(rr, 40)) big[i] = 0x20;
    const batch = packBytes([Buffer.from('short'), big, Buffer.from('after'), Buffer.from('x'.repeat(4 << 20))]);
    const config = resolveRouterConfig();
    const want = reference(batch, config);
    expectSame(fast(new WasmKernel(), batch, config), want, 'wasm');
    expectSame(fast(new WasmKernel({ windowBytes: 1 << 20 }), batch, config), want, 'wasm, 1 MiB windows');
    expectSame(fast(new JsKernel(), batch, config), want, 'js');
  });

  it('route a 200 MB string to the results the reference gave (pinned: the reference takes seconds on it)', () => {
    // Record 0 is "Hello", record 1 the whole 200 MB buffer from byte 5.
    const big = Buffer.alloc(200_000_000, 'Hello, World 42 é\tx=f(y);\0');
    const batch = { bytes: new Uint8Array(big.buffer, big.byteOffset, big.length), offsets: Uint32Array.of(0, 5, big.length) };
    const pinned: [RouterOptions, Routing][] = [
      [{}, { experts: Uint32Array.of(1, 2), scoresQ16: Uint32Array.of(14111, 36080), confidenceQ16: Uint32Array.of(11464, 16768) }],
      [{ numExperts: 17 }, { experts: Uint32Array.of(6, 15), scoresQ16: Uint32Array.of(14111, 36080), confidenceQ16: Uint32Array.of(19343, 49026) }],
    ];
    for (const [options, want] of pinned) expectSame(fast(new WasmKernel(), batch, resolveRouterConfig(options)), want, 'wasm');
    // The JavaScript kernel has no windows; one configuration shows it counts that far.
    expectSame(fast(new JsKernel(), batch, resolveRouterConfig(pinned[0][0])), pinned[0][1], 'js');
  });

  it('route records of few long tokens, their mean token length at and around the cap, like the reference', () => {
    // tokenLength is a mean capped at `cap`: a non-whitespace characters in b tokens, a around b * cap,
    // b on both sides of 2^16 (kernel.c takes another path from 2^16 tokens).
    const record = (a: number, b: number): Uint8Array => {
      const out = Buffer.alloc(a + b - 1, 0x20);
      let at = 0;
      for (let t = 0; t < b; t++) {
        const len = Math.floor(a / b) + (t < a % b ? 1 : 0);
        out.fill('aB3,', at, at + len);
        at += len + 1;
      }
      return out;
    };
    const rr = rng(16);
    for (const [cap, tokens] of [[65535, [1, 2, 5]], [1000, [1, 7, 300]], [2, [65535, 65536, 70001]]] as const) {
      const parts: Uint8Array[] = [];
      for (const b of tokens) {
        const as = [b, b * cap - 1, b * cap, b * cap + 1, Math.floor((b * cap) / 2) + 1];
        for (let k = 0; k < 5; k++) as.push(b + randomInt(rr, b * (cap - 1)));
        for (const a of as) parts.push(record(a, b));
      }
      const batch = packBytes(parts);
      const config = resolveRouterConfig({ caps: { tokenLength: cap } });
      const want = reference(batch, config);
      expectSame(fast(new WasmKernel(), batch, config), want, `wasm, cap ${cap}`);
      expectSame(fast(new JsKernel(), batch, config), want, `js, cap ${cap}`);
    }
  });

  it('route only the first `count` records, from offsets that need not start at 0', () => {
    const batch = mixed(7, 500);
    const config = resolveRouterConfig({ numExperts: 4 });
    const want = reference(batch, config);
    for (const kernel of [new WasmKernel({ windowBytes: 100, windowRecords: 7 }), new JsKernel()]) {
      const out = { experts: new Uint32Array(300).fill(7), scoresQ16: new Uint32Array(300).fill(7), confidenceQ16: new Uint32Array(300).fill(7) };
      // Records 100..299 of the batch: their offsets, untouched, with bytes still the whole batch.
      kernel.routeInto(batch.bytes, batch.offsets.subarray(100), 200, config, out);
      expect(Array.from(out.scoresQ16.subarray(0, 200))).toEqual(Array.from(want.scoresQ16.subarray(100, 300)));
      expect(Array.from(out.experts.subarray(0, 200))).toEqual(Array.from(want.experts.subarray(100, 300)));
      expect(Array.from(out.confidenceQ16.subarray(0, 200))).toEqual(Array.from(want.confidenceQ16.subarray(100, 300)));
      expect(Array.from(out.scoresQ16.subarray(200))).toEqual(new Array<number>(100).fill(7));
    }
  });

  it('reject a count beyond the offsets, short output arrays and offsets past the bytes', () => {
    const b = packStrings(['a', 'bc']);
    const out = { experts: new Uint32Array(2), scoresQ16: new Uint32Array(2), confidenceQ16: new Uint32Array(2) };
    for (const kernel of [new WasmKernel(), new JsKernel()]) {
      expect(() => kernel.routeInto(b.bytes, b.offsets, 3, resolveRouterConfig(), out)).toThrow(/3 records need 4 offsets, got 3/);
      expect(() => kernel.routeInto(b.bytes, b.offsets, 2, resolveRouterConfig(), { ...out, experts: new Uint32Array(1) })).toThrow(/must hold 2 results/);
      expect(() => kernel.routeInto(b.bytes.subarray(0, 2), b.offsets, 2, resolveRouterConfig(), out)).toThrow(/end at 3, outside bytes \(2\)/);
    }
  });

  // Pinned from the reference: a change of the model or of any kernel shows here, not only as A != B.
  const GOLDEN: [RouterOptions, [string, number, number, number][]][] = [
    [{}, [['', 0, 0, 65536], ['The', 0, 10922, 10373], ['AI and ML', 1, 14357, 13949], ['@#$%^&*', 2, 26942, 1639],
      ['Supercalifragilistic', 2, 28904, 4887], ['Hi, World 42\té!', 1, 20632, 53737], ['🎉', 0, 5970, 35384],
      ['\ufeffBOM', 1, 17567, 46374], ['const x = f(y[1]);', 1, 24084, 18868]]],
    [{ numExperts: 17 }, [['The', 4, 10922, 26736], ['@#$%^&*', 11, 26942, 32406], ['const x = f(y[1]);', 10, 24084, 60144]]],
    [{ boundaries: [0.05, 0.1, 0.3, 0.31, 0.9], weights: { length: 2, mixing: 1 }, caps: { length: 100, tokenLength: 3 } },
      [['AI and ML', 2, 7941, 13871], ['🎉', 0, 2727, 10999], ['const x = f(y[1]);', 2, 17495, 21661]]],
  ];
  it.each(GOLDEN)('give the pinned results for %j', (options, cases) => {
    const config = resolveRouterConfig(options);
    const batch = packStrings(cases.map((c) => c[0]));
    const want = { experts: Uint32Array.from(cases, (c) => c[1]), scoresQ16: Uint32Array.from(cases, (c) => c[2]), confidenceQ16: Uint32Array.from(cases, (c) => c[3]) };
    expectSame(reference(batch, config), want, 'reference');
    expectSame(fast(new WasmKernel(), batch, config), want, 'wasm');
    expectSame(fast(new JsKernel(), batch, config), want, 'js');
  });
});

// kernel.c divides by multiplying with ceil(2^48 / d); its two routines against plain division, every divisor.
describe('the WebAssembly kernel\'s division by multiplication', () => {
  interface DivisionExports extends ModuleExports {
    test_div_q16(a: number, d: number): number;
    test_div_u16(x: number, d: number): number;
    test_div_q16_x4(a: number, d: number): number;
    test_q16_quotient(n: number, d: number): number;
  }
  const x = instantiate<DivisionExports>(new URL('../src/backends/cpu/kernel.wasm', import.meta.url));
  const MAX_U32 = 2 ** 32 - 1;

  function check(name: string, got: number, want: number, a: number, d: number): void {
    if (got >>> 0 !== want) expect.fail(`${name}(${a}, ${d}) is ${got >>> 0}, plain division says ${want}`);
  }

  it('floor(a * 2^16 / d) for every divisor 1..65535, with a at its edges and random (a < 2^16), scalar and per lane', () => {
    const rr = rng(48);
    for (let d = 1; d < 65536; d++) {
      const as = [0, 1, d - 1, d, d + 1, (d >>> 1) + 1, 65534, 65535];
      for (let k = 0; k < 8; k++) as.push(randomInt(rr, 65536));
      for (const a of as) {
        if (a >= 65536) continue;
        check('div_q16', x.test_div_q16(a, d), Math.floor((a * 65536) / d), a, d);
        check('div_q16_x4', x.test_div_q16_x4(a, d), Math.floor((a * 65536) / d), a, d);
      }
    }
  });

  it('floor(a * 2^16 / d) for every a < 2^16 and every divisor up to 300, scalar and per lane', () => {
    for (let d = 1; d <= 300; d++) {
      for (let a = 0; a < 65536; a++) {
        const want = Math.floor((a * 65536) / d);
        check('div_q16', x.test_div_q16(a, d), want, a, d);
        check('div_q16_x4', x.test_div_q16_x4(a, d), want, a, d);
      }
    }
  });

  it('floor(x / d) for every divisor 1..65535, with x at the multiples of d near 2^32, the edges and random (x < 2^32)', () => {
    const rr = rng(32);
    for (let d = 1; d < 65536; d++) {
      const top = MAX_U32 - (MAX_U32 % d); // the largest multiple of d
      const xs = [0, 1, d - 1, d, d + 1, 2 * d - 1, top - d, top - d - 1, top - 1, top, MAX_U32 - 1, MAX_U32, d * 65536 - 1, d * 65536];
      for (let k = 0; k < 8; k++) xs.push(Math.floor(rr() * 2 ** 32));
      for (const v of xs) if (v <= MAX_U32) check('div_u16', x.test_div_u16(v, d), Math.floor(v / d), v, d);
    }
  });

  // The four-record scorer's mean token length divides n * 2^16 by d < 2^32 in doubles and truncates.
  it('min(2^16, floor(n * 2^16 / d)) in doubles, for quotients just below an integer and at the edges', () => {
    const want = (n: number, d: number): number => Number(BigInt(Math.min(65536, Number((BigInt(n) * 65536n) / BigInt(d)))));
    const rr = rng(53);
    const cases: [number, number][] = [];
    for (let d = 1; d < 65536; d++) cases.push([d - 1, d], [d, d], [Math.floor(d / 2), d], [randomInt(rr, d), d]);
    for (let k = 0; k < 20000; k++) {
      // An odd d and the n < d with n * 2^16 = -1 (mod d): the quotient is as close below an integer as it gets.
      const d = BigInt(Math.floor(rr() * 2 ** 31)) * 2n + 1n;
      let inverse = 1n;
      for (let e = 65536n % d, p = d - 2n; p > 0n; p >>= 1n, e = (e * e) % d) if (p & 1n) inverse = (inverse * e) % d; // 2^16 mod d to the power d - 2
      const n = (d - inverse) % d;
      if (((n * 65536n) % d) === d - 1n) cases.push([Number(n), Number(d)]); // d prime, or a lucky composite
      cases.push([Math.floor(rr() * Number(d)), Number(d)]);
    }
    for (const d of [2 ** 32 - 1, 2 ** 32 - 2, 2 ** 31, 65536, 65537]) cases.push([d - 1, d], [d, d], [MAX_U32, d], [1, d]);
    for (const [n, d] of cases) check('q16_quotient', x.test_q16_quotient(n, d), want(n, d), n, d);
  });

  it('give 0 for the divisor 0 (what the model\'s ratio gives), as the scoring relies on', () => {
    for (const a of [0, 1, 65535]) expect(x.test_div_q16(a, 0)).toBe(0);
    for (const v of [0, 1, MAX_U32]) expect(x.test_div_u16(v, 0)).toBe(0);
  });
});

describe('the cpu and cpu-reference backends', () => {
  const saved = process.env.MOE_ROUTER_CPU_KERNEL;
  afterEach(() => {
    if (saved === undefined) delete process.env.MOE_ROUTER_CPU_KERNEL;
    else process.env.MOE_ROUTER_CPU_KERNEL = saved;
  });

  it('route a batch to the same results through the RoutingBackend interface', async () => {
    const config = resolveRouterConfig({ numExperts: 5 });
    const batch = packStrings(textEveryLength);
    const ref = new CpuReferenceBackend();
    const cpu = new CpuBackend();
    expect(ref.name).toBe('cpu-reference');
    expect(cpu.name).toBe('cpu');
    expect(cpu.description).toMatch(/WebAssembly/);
    const a = await ref.route(batch, config);
    const b = await cpu.route(batch, config);
    expect(b.count).toBe(textEveryLength.length);
    expectSame(b, a, 'cpu vs cpu-reference');
    expect(Object.keys(a.timings)).toEqual(['statistics', 'score']);
    expect(b.timings.kernel).toBeGreaterThanOrEqual(0);
    const empty = await cpu.route(packStrings([]), config);
    expect(empty.count).toBe(0);
    await cpu.dispose();
    await ref.dispose();
  });

  it('uses the JavaScript kernel when MOE_ROUTER_CPU_KERNEL=js, and rejects an unknown kernel', async () => {
    process.env.MOE_ROUTER_CPU_KERNEL = 'js';
    const js = new CpuBackend();
    expect(js.kernelKind).toBe('js');
    expect(js.description).toMatch(/JavaScript/);
    expect(createKernel().kind).toBe('js');
    process.env.MOE_ROUTER_CPU_KERNEL = 'wasm';
    expect(new CpuBackend().kernelKind).toBe('wasm');
    process.env.MOE_ROUTER_CPU_KERNEL = 'gpu';
    expect(() => new CpuBackend()).toThrow(ConfigError);
    expect(() => new CpuBackend()).toThrow(/MOE_ROUTER_CPU_KERNEL must be "wasm" or "js", got "gpu"/);
    delete process.env.MOE_ROUTER_CPU_KERNEL;
    expect(new CpuBackend({ kernel: 'js' }).kernelKind).toBe('js');
  });

  it('routeInto writes into caller-owned arrays, reused across calls', () => {
    const config = resolveRouterConfig();
    const out = { experts: new Uint32Array(4), scoresQ16: new Uint32Array(4), confidenceQ16: new Uint32Array(4) };
    const a = packStrings(['The', 'AI and ML', '@#$%^&*', '']);
    routeInto(a.bytes, a.offsets, 4, config, out);
    expect(Array.from(out.experts)).toEqual([0, 1, 2, 0]);
    expect(Array.from(out.scoresQ16)).toEqual([10922, 14357, 26942, 0]);
    const b = packStrings(['Supercalifragilistic']);
    routeInto(b.bytes, b.offsets, 1, config, out);
    expect(Array.from(out.scoresQ16)).toEqual([28904, 14357, 26942, 0]);
  });
});
