/** calibrate --budget's search against brute force over every boundary placement, on small score ranges. */
import { describe, expect, it } from 'vitest';
import { ScoreHistogram, calibrateBudget } from '../src/model/budget-calibration.js';
import { estimateCosts, type ExpertModel } from '../src/model/expert-models.js';
import { randomInt, rng } from './helpers/random.js';

/** Records per expert for boundaries b (Q16), by the routing rule: expert = number of boundaries <= score. */
function split(scores: number[], chars: number[], b: number[]): { counts: number[]; chars: number[] } {
  const counts = new Array<number>(b.length + 1).fill(0);
  const ch = new Array<number>(b.length + 1).fill(0);
  scores.forEach((s, i) => {
    const e = b.filter((x) => s >= x).length;
    counts[e]++;
    ch[e] += chars[i];
  });
  return { counts, chars: ch };
}

/** Compares count vectors from the top expert down: the order --budget maximises. */
function better(a: number[], b: number[]): boolean {
  for (let e = a.length - 1; e >= 1; e--) if (a[e] !== b[e]) return a[e] > b[e];
  return false;
}

function* increasing(k: number, from: number, to: number): Generator<number[]> {
  if (k === 0) {
    yield [];
    return;
  }
  for (let x = from; x <= to - k + 1; x++) for (const rest of increasing(k - 1, x + 1, to)) yield [x, ...rest];
}

function risingModels(r: () => number, n: number): ExpertModel[] {
  let perRecord = 0;
  let per1k = 0;
  return Array.from({ length: n }, (_, e) => {
    perRecord += randomInt(r, 3) * 0.5;
    per1k += randomInt(r, 4) * 250;
    return { model: `m${e}`, costPerRecord: perRecord, costPer1kChars: per1k };
  });
}

describe('calibrateBudget', () => {
  it('gives, for random corpora, prices and budgets, the brute-force optimum: the most to the top expert, then the next', () => {
    const r = rng(12);
    for (let trial = 0; trial < 60; trial++) {
      const n = 2 + randomInt(r, 3); // 2..4 experts
      const maxScore = 6 + randomInt(r, 10); // scores in 0..maxScore: every placement above it is equivalent
      const records = 1 + randomInt(r, 25);
      const scores = Array.from({ length: records }, () => randomInt(r, maxScore + 1));
      const chars = Array.from({ length: records }, () => randomInt(r, 40));
      const models = risingModels(r, n);
      const hist = new ScoreHistogram();
      scores.forEach((s, i) => hist.add(s, chars[i]));
      const costOf = (b: number[]): number => {
        const s = split(scores, chars, b);
        return estimateCosts(models, s.counts, s.chars).total;
      };
      let minCost = Infinity;
      let maxCost = -Infinity;
      for (const b of increasing(n - 1, 1, maxScore + n)) {
        minCost = Math.min(minCost, costOf(b));
        maxCost = Math.max(maxCost, costOf(b));
      }
      const budget = minCost + r() * (maxCost - minCost) * 1.1;
      let best: number[] | null = null;
      for (const b of increasing(n - 1, 1, maxScore + n)) {
        if (costOf(b) > budget) continue;
        const c = split(scores, chars, b).counts;
        if (best === null || better(c, best)) best = c;
      }
      const cal = calibrateBudget(hist, models, budget);
      const ctx = JSON.stringify({ trial, scores, chars, models, budget });
      expect(cal.total, ctx).toBeLessThanOrEqual(budget);
      expect(cal.total, ctx).toBe(costOf(cal.boundariesQ16));
      expect(cal.counts, ctx).toEqual(split(scores, chars, cal.boundariesQ16).counts);
      expect(cal.counts, ctx).toEqual(best);
      expect(cal.minimumCost, ctx).toBe(minCost);
      // each boundary is the lowest score it sends up, or just under the next boundary when it sends none
      cal.boundariesQ16.forEach((q, k) => {
        const next = k + 1 < cal.boundariesQ16.length ? cal.boundariesQ16[k + 1] : 65536;
        const up = scores.filter((s) => s >= q && s < next);
        expect(up.length === 0 ? q === Math.min(next - 1, 65535) : Math.min(...up) === q, ctx).toBe(true);
      });
    }
  });

  it('refuses a budget below the cheapest routing and prices that fall', () => {
    const hist = new ScoreHistogram();
    hist.add(100, 10);
    hist.add(40000, 1000);
    const models: ExpertModel[] = [
      { model: 'a', costPerRecord: 1, costPer1kChars: 0 },
      { model: 'b', costPerRecord: 2, costPer1kChars: 0 },
    ];
    expect(calibrateBudget(hist, models, 2).counts).toEqual([2, 0]);
    expect(calibrateBudget(hist, models, 3).counts).toEqual([1, 1]);
    expect(calibrateBudget(hist, models, 3).boundariesQ16).toEqual([40000]);
    // everything affordable: the boundary is the lowest score sent up
    expect(calibrateBudget(hist, models, 4).boundariesQ16).toEqual([100]);
    expect(calibrateBudget(hist, models, 4).counts).toEqual([0, 2]);
    expect(() => calibrateBudget(hist, models, 1.5)).toThrow('the budget 1.5 is below the lowest cost these models can give on this corpus, 2');
    expect(() => calibrateBudget(hist, [models[1], models[0]], 10)).toThrow('models[1] ("a") has costPerRecord 1 < 2 of models[0] ("b")');
  });
});
