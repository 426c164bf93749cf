import { describe, expect, it } from 'vitest';
import { ConfigError, SwitchedMoE, resolveRouterConfig, defaultBoundaries } from '../src/index.js';
import { ONE, cappedQ16, countOneBits, meanCappedQ16, ratioQ16 } from '../src/model/fixed-point.js';
import { STATS_STRIDE, confidenceQ16, expertOf } from '../src/model/complexity-model.js';
import { NO_PREVIOUS_BYTE, accumulateStatistics, computeStatistics } from '../src/backends/cpu-reference/statistics.js';
import { packStrings } from '../src/model/packed-batch.js';
import { randomBytes, randomInt, rng } from './helpers/random.js';

describe('fixed-point helpers', () => {
  const r = rng(1);
  it('ratioQ16 is floor(a/b * 2^16) exactly while b < 2^16, and within 2^-15 relative beyond', () => {
    for (let i = 0; i < 20000; i++) {
      const b = 1 + randomInt(r, i % 2 ? 0xffff : 0xffffffff);
      const a = randomInt(r, b + 1);
      const exact = Number((BigInt(a) << 16n) / BigInt(b));
      const got = ratioQ16(a, b);
      if (b < 0x10000) expect(got).toBe(exact);
      else expect(Math.abs(got - exact)).toBeLessThanOrEqual(Math.ceil(exact / 32768) + 2);
      expect(got).toBeLessThanOrEqual(ONE);
    }
    expect(ratioQ16(0, 0)).toBe(0);
    expect(ratioQ16(0xffffffff, 0xffffffff)).toBe(ONE);
  });

  it('cappedQ16 and meanCappedQ16 saturate at 1 and never overflow 32 bits', () => {
    for (let i = 0; i < 20000; i++) {
      const cap = 1 + randomInt(r, 65535);
      const x = randomInt(r, 0xffffffff);
      expect(cappedQ16(x, cap)).toBe(Number((BigInt(Math.min(x, cap)) << 16n) / BigInt(cap)));
      const b = 1 + randomInt(r, 0xfffffff);
      const a = randomInt(r, 0xffffffff);
      const got = meanCappedQ16(a, b, cap);
      const exact = Math.min(ONE, Number((BigInt(a) << 16n) / (BigInt(b) * BigInt(cap))));
      expect(Math.abs(got - exact)).toBeLessThanOrEqual(1);
    }
    expect(meanCappedQ16(5, 0, 3)).toBe(0);
  });

  it('countOneBits matches a bit loop', () => {
    for (let i = 0; i < 5000; i++) {
      const x = randomInt(r, 0x100000000);
      let n = 0;
      for (let k = 0; k < 32; k++) n += (x >>> k) & 1;
      expect(countOneBits(x)).toBe(n);
    }
  });
});

describe('character statistics', () => {
  it('counts a known string exactly', () => {
    const moe = new SwitchedMoE();
    const s = moe.explain('Hi, World 42\té!').statistics;
    expect(s).toEqual({
      bytes: 16, chars: 15, whitespace: 3, upper: 2, lower: 5, digits: 2, punctuation: 2, control: 0, nonAscii: 1,
      tokens: 4, transitions: 4, distinctBytes: 15,
    });
  });

  it('gives the same record whether a string is counted whole or in any split (what the GPU relies on)', () => {
    const r = rng(7);
    for (let t = 0; t < 300; t++) {
      const bytes = randomBytes(r, randomInt(r, 200));
      const whole = computeStatistics(bytes, Uint32Array.of(0, bytes.length));
      const split = new Uint32Array(STATS_STRIDE);
      let pos = 0;
      while (pos < bytes.length) {
        const end = Math.min(bytes.length, pos + 1 + randomInt(r, 17));
        accumulateStatistics(bytes, pos, end, pos === 0 ? NO_PREVIOUS_BYTE : bytes[pos - 1], split, 0);
        pos = end;
      }
      expect(Array.from(split)).toEqual(Array.from(whole));
    }
  });
});

describe("the notebook's examples (3 experts, threshold 0.6)", () => {
  const moe = new SwitchedMoE({ numExperts: 3, complexityThreshold: 0.6 });
  it('routes them as the notebook intends', () => {
    expect(moe.route('The')).toBe(0);
    expect(moe.route('AI and ML')).toBe(1);
    expect(moe.route('@#$%^&*')).toBe(2);
    expect(moe.route('Supercalifragilistic')).toBe(2);
    const the = moe.computeComplexity('The');
    const python = moe.computeComplexity('Python');
    const programming = moe.computeComplexity('Programming');
    expect(python).toBeGreaterThan(the);
    expect(programming).toBeGreaterThan(the);
    expect(programming).toBeGreaterThanOrEqual(python);
  });

  it('uses the boundaries threshold x 0.33 and threshold x 0.66', () => {
    expect(moe.getMetrics().boundaries).toEqual([0.6 * 0.33, 0.6 * 0.66]);
    expect(defaultBoundaries(2, 0.6)).toEqual([0.3]);
    expect(defaultBoundaries(4, 0.8)).toEqual([0.2, 0.4, 0.6]);
  });

  it('reports metrics with expert descriptions and counts of what it routed', () => {
    const m = new SwitchedMoE();
    for (const t of ['The', 'AI and ML', '@#$%^&*', 'a']) m.route(t);
    const metrics = m.getMetrics();
    expect(metrics.numExperts).toBe(3);
    expect(metrics.complexityThreshold).toBe(0.6);
    expect(Object.keys(metrics.expertDescriptions)).toEqual(['0', '1', '2']);
    expect(metrics.expertDescriptions[2]).toMatch(/complex/);
    expect(metrics.routed.perExpert).toEqual([2, 1, 1]);
    expect(metrics.features.reduce((s, f) => s + f.weight, 0)).toBeCloseTo(1, 9);
  });

  it('explains a score as the sum of its feature contributions', () => {
    for (const t of ['The', 'Supercalifragilistic', 'const x = f(y[1]);', '日本語', '']) {
      const e = moe.explain(t);
      const sum = e.features.reduce((s, f) => s + f.contribution, 0);
      expect(Math.abs(sum - e.complexity)).toBeLessThan(2 / ONE); // only the final floor differs
      expect(e.expert).toBe(moe.route(t));
      expect(e.confidence).toBe(moe.confidence(t));
      for (const f of e.features) expect(f.value).toBeGreaterThanOrEqual(0);
    }
  });
});

describe('confidence', () => {
  const b = [12976, 25952]; // 0.198, 0.396 in Q16
  it('is 0 on a boundary and grows with the distance from the nearest one', () => {
    for (const boundary of b) expect(confidenceQ16(boundary, expertOf(boundary, b), b)).toBe(0);
    expect(confidenceQ16(0, 0, b)).toBe(ONE);
    expect(confidenceQ16(ONE, 2, b)).toBe(ONE);
    expect(confidenceQ16((b[0] + b[1]) >> 1, 1, b)).toBe(ONE);
    let prev = -1;
    for (let s = b[0]; s <= (b[0] + b[1]) >> 1; s += 97) {
      const c = confidenceQ16(s, expertOf(s, b), b);
      expect(c).toBeGreaterThanOrEqual(prev);
      prev = c;
    }
    prev = ONE + 1;
    for (let s = 0; s < b[0]; s += 101) {
      const c = confidenceQ16(s, 0, b);
      expect(c).toBeLessThanOrEqual(prev);
      prev = c;
    }
  });
  it('is 1 with a single expert', () => {
    const one = new SwitchedMoE({ numExperts: 1 });
    expect(one.route('anything at all')).toBe(0);
    expect(one.confidence('anything at all')).toBe(1);
  });
});

describe('configuration', () => {
  it('accepts explicit boundaries and N experts', () => {
    const c = resolveRouterConfig({ boundaries: [0.1, 0.2, 0.5] });
    expect(c.numExperts).toBe(4);
    const moe = new SwitchedMoE({ numExperts: 5, complexityThreshold: 1 });
    expect(moe.getMetrics().boundaries).toEqual([0.2, 0.4, 0.6, 0.8]);
    expect(moe.route('a')).toBe(0);
  });

  it.each([
    [{ numExperts: 0 }, /numExperts/],
    [{ numExperts: 2.5 }, /numExperts/],
    [{ complexityThreshold: 2 }, /complexityThreshold/],
    [{ complexityThreshold: 0 }, /complexityThreshold/],
    [{ boundaries: [0.5, 0.2] }, /strictly increasing/],
    [{ boundaries: [0.5, 1.2] }, /\(0, 1\)/],
    [{ numExperts: 3, boundaries: [0.5] }, /need 2 boundaries/],
    [{ weights: { nope: 1 } }, /unknown feature "nope"/],
    [{ weights: { length: -1 } }, /weight of "length"/],
    [{ caps: { length: 0 } }, /cap of "length"/],
    [{ caps: { digits: 4 } }, /ratio and has no cap/],
  ])('rejects %j', (options, message) => {
    expect(() => new SwitchedMoE(options as never)).toThrow(ConfigError);
    expect(() => new SwitchedMoE(options as never)).toThrow(message);
  });

  it('changes scores when weights and caps change', () => {
    const base = new SwitchedMoE().computeComplexity('abc def');
    const onlyLength = new SwitchedMoE({
      weights: { length: 1, tokenLength: 0, tokens: 0, punctuation: 0, digits: 0, uppercase: 0, nonAscii: 0, control: 0, diversity: 0, mixing: 0 },
      caps: { length: 14 },
    });
    expect(onlyLength.computeComplexity('abc def')).toBe(0.5);
    expect(onlyLength.computeComplexity('abc def')).not.toBe(base);
  });

  it('packs strings as UTF-8 with n + 1 offsets', () => {
    const p = packStrings(['', 'é', 'ab']);
    expect(Array.from(p.offsets)).toEqual([0, 0, 2, 4]);
    expect(Array.from(p.bytes)).toEqual([0xc3, 0xa9, 0x61, 0x62]);
  });
});
