/**
 * The estimated cost of a route job when the config names a model per expert:
 * characters and records counted per expert as the records are written, the
 * cost computed once at the end from those integers (estimateCosts), so the
 * summary, --stats and merge-stats give the same numbers.
 */
import { ConfigError } from '../errors.js';
import { countChars, estimateCosts, type ExpertModel } from '../model/expert-models.js';
import type { PackedBatch } from '../model/packed-batch.js';
import { NO_EXPERT, type BatchEvent, type RouteJobListener } from './events.js';

/** The `cost` object of RunStats (--stats). */
export interface CostStats {
  /** Per expert: its model and prices. */
  models: ExpertModel[];
  /** Routed records per expert (error records are not sent to a model). */
  records: number[];
  /** Characters of routed text per expert: bytes that are not UTF-8 continuation bytes (= code points of valid UTF-8). */
  chars: number[];
  /** Estimated cost per expert: costPerRecord x records + costPer1kChars x chars / 1000. */
  perExpert: number[];
  /** The sum of perExpert, in expert order. */
  total: number;
}

export function costStats(models: readonly ExpertModel[], records: readonly number[], chars: readonly number[]): CostStats {
  const { perExpert, total } = estimateCosts(models, records, chars);
  return { models: models.map((m) => ({ ...m })), records: [...records], chars: [...chars], perExpert, total };
}

/** Counts routed records and characters per expert; a RouteJobListener, and callable directly from a batch loop. */
export class CostMeter implements RouteJobListener {
  private readonly records: number[];
  private readonly chars: number[];

  constructor(readonly models: readonly ExpertModel[]) {
    this.records = new Array<number>(models.length).fill(0);
    this.chars = new Array<number>(models.length).fill(0);
  }

  /** Adds records 0 .. count-1 of a batch, except those at the `errors` positions (ascending). */
  addBatch(text: PackedBatch, experts: Uint32Array, count: number, errors: readonly { local: number }[]): void {
    let nextErr = 0;
    const { bytes, offsets } = text;
    for (let i = 0; i < count; i++) {
      if (nextErr < errors.length && errors[nextErr].local === i) {
        nextErr++;
        continue;
      }
      const e = experts[i];
      this.records[e]++;
      this.chars[e] += countChars(bytes, offsets[i], offsets[i + 1]);
    }
  }

  onBatch(event: BatchEvent): void {
    const { bytes, offsets } = event.text;
    for (let i = 0; i < event.records; i++) {
      const e = event.experts[i];
      if (e === NO_EXPERT) continue;
      this.records[e]++;
      this.chars[e] += countChars(bytes, offsets[i], offsets[i + 1]);
    }
  }

  stats(): CostStats {
    return costStats(this.models, this.records, this.chars);
  }
}

/**
 * The cost of merged parts: counts summed, cost recomputed. Parts routed with
 * different models or prices cannot be merged into one estimate.
 */
export function mergeCostStats(all: readonly { cost?: CostStats; input: string }[]): CostStats | undefined {
  const withCost = all.filter((s) => s.cost !== undefined);
  if (withCost.length === 0) return undefined;
  if (withCost.length !== all.length) {
    throw new ConfigError(`cannot merge the estimated costs: some stats files have models and costs (--config with "models") and some do not`);
  }
  for (const s of withCost) checkShape(s.cost as CostStats, s.input);
  const models = (withCost[0].cost as CostStats).models;
  const key = JSON.stringify(models);
  for (const s of withCost) {
    if (JSON.stringify(s.cost?.models) !== key) {
      throw new ConfigError(`cannot merge the estimated costs: the parts were routed with different models or prices (${JSON.stringify(s.cost?.models)} vs ${key})`);
    }
  }
  const records = new Array<number>(models.length).fill(0);
  const chars = new Array<number>(models.length).fill(0);
  for (const s of withCost) {
    s.cost?.records.forEach((n, e) => (records[e] += n));
    s.cost?.chars.forEach((n, e) => (chars[e] += n));
  }
  return costStats(models, records, chars);
}

function checkShape(c: CostStats, input: string): void {
  const n = Array.isArray(c.models) ? c.models.length : -1;
  const ok = (a: unknown): boolean => Array.isArray(a) && a.length === n && a.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0);
  if (n < 1 || !ok(c.records) || !ok(c.chars)) {
    throw new ConfigError(`the stats of ${input} have a malformed "cost" object (expected models, and records and chars with one number per model)`);
  }
}
