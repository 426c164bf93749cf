/**
 * Router configuration through the public API: every documented expert count
 * gives strictly increasing default boundaries, and a config value of the
 * wrong type is named by its type (never NaN or [object Object]).
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, MAX_EXPERTS, SwitchedMoE, defaultBoundaries, resolveRouterConfig } from '../src/index.js';

describe('default boundaries for every N in 1..1024', () => {
  it.each([0.6, 1, 0.25])('threshold %s: strictly increasing in Q16, inside (0, threshold)', (threshold) => {
    // checked in plain code, one expect at the end: half a million expect() calls take minutes
    const bad: string[] = [];
    for (let n = 1; n <= MAX_EXPERTS; n++) {
      const c = resolveRouterConfig({ numExperts: n, complexityThreshold: threshold });
      if (c.boundariesQ16.length !== n - 1) bad.push(`N=${n}: ${c.boundariesQ16.length} boundaries`);
      for (let i = 0; i < n - 1; i++) {
        if (c.boundariesQ16[i] <= (i === 0 ? 0 : c.boundariesQ16[i - 1])) bad.push(`N=${n}: boundary ${i} = ${c.boundariesQ16[i]}`);
        if (!(c.boundaries[i] < threshold)) bad.push(`N=${n}: boundary ${i} = ${c.boundaries[i]} >= ${threshold}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it("keeps the notebook's values for small N (k/N cut to two decimals)", () => {
    expect(defaultBoundaries(3, 0.6)).toEqual([0.6 * 0.33, 0.6 * 0.66]);
    expect(defaultBoundaries(2, 0.6)).toEqual([0.3]);
    expect(defaultBoundaries(4, 0.8)).toEqual([0.2, 0.4, 0.6]);
    expect(defaultBoundaries(7, 1)).toEqual([0.14, 0.28, 0.42, 0.57, 0.71, 0.85]);
    expect(resolveRouterConfig({ numExperts: 3 }).boundariesQ16).toEqual([12976, 25952]);
    expect(defaultBoundaries(100, 1)[98]).toBe(0.99);
  });

  it('past 100 experts uses k/N itself (the two-decimal cut would repeat values)', () => {
    const b = defaultBoundaries(101, 1);
    expect(b[0]).toBe(1 / 101);
    expect(b[99]).toBe(100 / 101);
    const q = resolveRouterConfig({ numExperts: 1024 }).boundariesQ16;
    // 0.6 x k/1024 in Q16: 38.4 -> 38, 76.8 -> 77, ..., 0.6 x 1023/1024 -> 39283.2 -> 39283
    expect([q[0], q[1], q[1022]]).toEqual([38, 77, 39283]);
  });

  it('expert descriptions show ranges that do not collapse, even for 1024 experts', () => {
    for (const n of [3, 101, 1024]) {
      const c = resolveRouterConfig({ numExperts: n });
      for (let e = 0; e < n; e++) {
        const m = /complexity in \[([\d.]+), ([\d.]+)[)\]]$/.exec(c.expertDescriptions[e]);
        expect(m, c.expertDescriptions[e]).not.toBeNull();
        expect(Number(m![1])).toBeLessThan(Number(m![2]));
      }
    }
    expect(resolveRouterConfig({ numExperts: 3 }).expertDescriptions[1]).toContain('complexity in [0.198, 0.396)');
  });

  it('a threshold too small for N distinct boundaries is a clear error', () => {
    expect(() => resolveRouterConfig({ numExperts: 1024, complexityThreshold: 0.001 })).toThrow(
      /1024 experts need 1023 distinct boundaries below the threshold 0.001 .*use a larger threshold or fewer experts/,
    );
  });
});

describe('config values of the wrong type name the type found', () => {
  it.each([
    [{ numExperts: '3' }, 'numExperts must be an integer in 1..1024, got a string "3"'],
    [{ numExperts: null }, 'numExperts must be an integer in 1..1024, got null'],
    [{ numExperts: {} }, 'numExperts must be an integer in 1..1024, got an object'],
    [{ numExperts: 2.5 }, 'numExperts must be an integer in 1..1024, got 2.5'],
    [{ complexityThreshold: '0.5' }, 'complexityThreshold must be a number in (0, 1], got a string "0.5"'],
    [{ complexityThreshold: {} }, 'complexityThreshold must be a number in (0, 1], got an object'],
    [{ boundaries: '0.2,0.4' }, 'boundaries must be an array of numbers, got a string "0.2,0.4"'],
    [{ boundaries: {} }, 'boundaries must be an array of numbers, got an object'],
    [{ boundaries: [0.2, '0.4'] }, 'boundaries[1] must be a number in (0, 1), got a string "0.4"'],
    [{ boundaries: [{}] }, 'boundaries[0] must be a number in (0, 1), got an object'],
    [{ weights: [] }, 'weights must be an object of feature names and numbers, got an array (0 items)'],
    [{ weights: null }, 'weights must be an object of feature names and numbers, got null'],
    [{ caps: [] }, 'caps must be an object of feature names and numbers, got an array (0 items)'],
    [{ weights: { tokens: '1' } }, 'weight of "tokens" must be a finite number >= 0, got a string "1"'],
    [{ weights: { tokens: true } }, 'weight of "tokens" must be a finite number >= 0, got a boolean (true)'],
    [{ caps: { tokens: {} } }, 'cap of "tokens" must be an integer in 1..65535, got an object'],
  ])('%j', (options, message) => {
    let err: unknown;
    try {
      new SwitchedMoE(options as never);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toBe(message);
    expect((err as Error).message).not.toMatch(/NaN|\[object/);
  });
});
