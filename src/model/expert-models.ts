/**
 * A model (or any label) per expert, with its cost, and the one cost formula
 * every estimate uses (route summary, --stats, merge-stats, calibrate --budget).
 *
 * Characters are counted from the routed UTF-8 bytes, never from JS strings:
 * a character is a byte that is not a UTF-8 continuation byte (0x80-0xBF).
 * For valid UTF-8 that is exactly the number of Unicode code points (an emoji
 * is 1, not the 2 UTF-16 units of String.length); it is the model's own
 * `chars` statistic (STAT.CHARS).
 */
import { ConfigError } from '../errors.js';

export interface ExpertModel {
  /** Model name or any label, written into each routed record. */
  model: string;
  /** Cost per 1,000 characters of routed text (0 when not given). */
  costPer1kChars: number;
  /** Cost per routed record (0 when not given). */
  costPerRecord: number;
}

const ENTRY_KEYS = ['model', 'costPer1kChars', 'costPerRecord'];

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `a string (${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '...' : v)})`;
  if (typeof v === 'number') return `the number ${v}`;
  return `a ${typeof v}`;
}

function cost(entry: Record<string, unknown>, key: string, where: string): number {
  const v = entry[key];
  if (v === undefined) return 0;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    throw new ConfigError(`${where}.${key} must be a number >= 0, got ${typeName(v)}`);
  }
  return v;
}

/**
 * Validates the config's `models` value: an array with one entry per expert,
 * each a label string or `{ model, costPer1kChars?, costPerRecord? }`.
 * `numExperts`, when given, is the router's expert count the array must match.
 */
export function parseExpertModels(value: unknown, numExperts?: number): ExpertModel[] {
  if (!Array.isArray(value)) throw new ConfigError(`models must be an array with one entry per expert, got ${typeName(value)}`);
  if (value.length === 0) throw new ConfigError('models must not be empty: give one entry per expert');
  if (numExperts !== undefined && value.length !== numExperts) {
    throw new ConfigError(`models has ${value.length} entr${value.length === 1 ? 'y' : 'ies'} but the router has ${numExperts} experts: give one model per expert`);
  }
  return value.map((entry: unknown, e): ExpertModel => {
    const where = `models[${e}]`;
    if (typeof entry === 'string') {
      if (entry === '') throw new ConfigError(`${where} must not be an empty string`);
      return { model: entry, costPer1kChars: 0, costPerRecord: 0 };
    }
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
      throw new ConfigError(`${where} must be a label string or an object {"model", "costPer1kChars", "costPerRecord"}, got ${typeName(entry)}`);
    }
    const o = entry as Record<string, unknown>;
    const unknown = Object.keys(o).filter((k) => !ENTRY_KEYS.includes(k));
    if (unknown.length > 0) throw new ConfigError(`${where}: unknown key${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (known: ${ENTRY_KEYS.join(', ')})`);
    if (typeof o.model !== 'string' || o.model === '') {
      throw new ConfigError(`${where}.model must be a non-empty string, got ${o.model === undefined ? 'nothing' : typeName(o.model)}`);
    }
    return { model: o.model, costPer1kChars: cost(o, 'costPer1kChars', where), costPerRecord: cost(o, 'costPerRecord', where) };
  });
}

/** The estimated cost of sending `records` records holding `chars` characters to this model. */
export function expertCost(m: ExpertModel, records: number, chars: number): number {
  return m.costPerRecord * records + (m.costPer1kChars * chars) / 1000;
}

/** Cost per expert and their total (summed in expert order), from integer counts: the same numbers wherever they are computed. */
export function estimateCosts(models: readonly ExpertModel[], records: readonly number[], chars: readonly number[]): { perExpert: number[]; total: number } {
  const perExpert = models.map((m, e) => expertCost(m, records[e] ?? 0, chars[e] ?? 0));
  let total = 0;
  for (const c of perExpert) total += c;
  return { perExpert, total };
}

/** Characters of bytes[start, end): the bytes that are not UTF-8 continuation bytes. */
export function countChars(bytes: Uint8Array, start: number, end: number): number {
  let n = 0;
  for (let i = start; i < end; i++) if ((bytes[i] & 0xc0) !== 0x80) n++;
  return n;
}
