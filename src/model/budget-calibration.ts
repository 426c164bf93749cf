/**
 * Boundaries for a cost budget (calibrate --budget).
 *
 * Given a corpus (its records' Q16 scores and characters) and one model per
 * expert whose prices do not fall from one expert to the next, the result is
 * the boundaries that, among all whose estimated total cost on this corpus is
 * at most the budget, send the most records to the top expert; among those,
 * the most to the expert below it; and so on down to expert 1. Expert 0 (the
 * cheapest) gets the rest.
 *
 * Each boundary is then raised to the lowest score it sends up (the highest
 * boundary with the same counts, as `calibrate --target` places them), so a
 * record of a new corpus scoring between two of this corpus's scores goes to
 * the cheaper expert.
 *
 * The cost is the one of route's summary (estimateCosts: price per record x
 * records + price per 1,000 characters x characters / 1000, per expert), so
 * `route --config` with the written boundaries reports the same total on the
 * same corpus.
 *
 * Memory is bounded whatever the corpus size: only a histogram over the
 * 65,537 possible scores is kept (records and characters per score).
 *
 * Why the greedy is exact: with prices non-decreasing in the expert index, a
 * record never gets cheaper by moving to a higher expert, so the cost only
 * falls as a boundary rises. For the top boundary, the cheapest way to route
 * everything below it is to pack the lower boundaries right under it (they
 * must stay strictly increasing, 1/65536 apart); the lowest top boundary whose
 * packed configuration fits the budget is therefore the optimum for the top
 * expert, found by binary search. The same argument then applies to each
 * boundary below, with the ones above it fixed.
 */
import { ConfigError } from '../errors.js';
import { estimateCosts, type ExpertModel } from './expert-models.js';
import { ONE } from './fixed-point.js';

/** Records and characters per Q16 score (0 .. ONE). */
export class ScoreHistogram {
  readonly records = new Float64Array(ONE + 1);
  readonly chars = new Float64Array(ONE + 1);
  total = 0;

  add(scoreQ16: number, chars: number): void {
    this.records[scoreQ16]++;
    this.chars[scoreQ16] += chars;
    this.total++;
  }
}

export interface BudgetCalibration {
  budget: number;
  records: number;
  boundariesQ16: number[];
  /** boundariesQ16 / 65536: exact, so route --config reproduces the counts. */
  boundaries: number[];
  counts: number[];
  shares: number[];
  chars: number[];
  /** Estimated cost per expert and in total on this corpus (total <= budget). */
  perExpert: number[];
  total: number;
  /** The lowest total any boundaries can give (all of them packed at the top): the smallest budget that can be met. */
  minimumCost: number;
  /** The total with the boundaries as low as they go (1/65536, 2/65536, ...: about everything to the top expert): a larger budget buys nothing more. */
  maximumCost: number;
}

/** Checks the prices rise (or stay) from each expert to the next: the condition under which "most to the top" is well defined and the greedy exact. */
export function checkRisingPrices(models: readonly ExpertModel[]): void {
  if (models.length < 2) throw new ConfigError('a budget needs at least two experts (two models)');
  for (let e = 1; e < models.length; e++) {
    const [a, b] = [models[e - 1], models[e]];
    for (const key of ['costPerRecord', 'costPer1kChars'] as const) {
      if (b[key] < a[key]) {
        throw new ConfigError(
          `a budget needs prices that do not fall from one expert to the next, but models[${e}] ("${b.model}") has ${key} ${b[key]} < ${a[key]} of models[${e - 1}] ("${a.model}"): order the models from the cheapest to the most expensive`,
        );
      }
    }
  }
}

export function calibrateBudget(hist: ScoreHistogram, models: readonly ExpertModel[], budget: number): BudgetCalibration {
  checkRisingPrices(models);
  if (!Number.isFinite(budget) || budget < 0) throw new ConfigError(`the budget must be a number >= 0, got ${budget}`);
  const n = models.length;
  if (n - 1 > ONE - 1) throw new ConfigError(`at most ${ONE} experts fit between 0 and 1 at a resolution of 1/${ONE}`);
  // prefix sums: records and characters with a score below v, for v in 0 .. ONE + 1
  const recBelow = new Float64Array(ONE + 2);
  const charsBelow = new Float64Array(ONE + 2);
  for (let v = 0; v <= ONE; v++) {
    recBelow[v + 1] = recBelow[v] + hist.records[v];
    charsBelow[v + 1] = charsBelow[v] + hist.chars[v];
  }
  // b[0] = 0 and b[n] = ONE + 1 close the outer intervals; expert e holds scores in [b[e], b[e+1])
  const b = new Array<number>(n + 1);
  b[0] = 0;
  b[n] = ONE + 1;
  const split = (): { counts: number[]; chars: number[] } => {
    const counts: number[] = [];
    const chars: number[] = [];
    for (let e = 0; e < n; e++) {
      counts.push(recBelow[b[e + 1]] - recBelow[b[e]]);
      chars.push(charsBelow[b[e + 1]] - charsBelow[b[e]]);
    }
    return { counts, chars };
  };
  const cost = (): number => {
    const s = split();
    return estimateCosts(models, s.counts, s.chars).total;
  };
  /** Sets boundary e to x and packs the ones below right under it. */
  const place = (e: number, x: number): void => {
    for (let j = e; j >= 1; j--) b[j] = x - (e - j);
  };

  place(n - 1, ONE - 1);
  const minimumCost = cost();
  const saved = [...b];
  place(n - 1, n - 1);
  const maximumCost = cost();
  for (let k = 0; k <= n; k++) b[k] = saved[k];
  if (minimumCost > budget) {
    throw new ConfigError(
      `the budget ${budget} is below the lowest cost these models can give on this corpus, ${minimumCost} (almost everything to expert 0, "${models[0].model}")`,
    );
  }
  for (let e = n - 1; e >= 1; e--) {
    let lo = e;
    let hi = b[e + 1] === ONE + 1 ? ONE - 1 : b[e + 1] - 1; // feasible: the configuration of the step before
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      place(e, mid);
      if (cost() <= budget) hi = mid;
      else lo = mid + 1;
    }
    place(e, lo);
  }
  // Same counts, tighter boundaries: each one raised to the lowest score it sends up (to just under the next
  // one when it sends none), as calibrate --target places them; unseen scores in between go to the cheaper expert.
  for (let e = n - 1; e >= 1; e--) {
    const ceiling = e === n - 1 ? ONE - 1 : b[e + 1] - 1;
    let v = b[e];
    while (v <= ceiling && hist.records[v] === 0) v++;
    b[e] = Math.min(v, ceiling);
  }
  const { counts, chars } = split();
  const { perExpert, total } = estimateCosts(models, counts, chars);
  const boundariesQ16 = b.slice(1, n);
  return {
    budget,
    records: hist.total,
    boundariesQ16,
    boundaries: boundariesQ16.map((q) => q / ONE),
    counts,
    shares: counts.map((c) => (hist.total === 0 ? 0 : c / hist.total)),
    chars,
    perExpert,
    total,
    minimumCost,
    maximumCost,
  };
}
