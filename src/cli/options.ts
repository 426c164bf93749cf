/** Option parsers (commander) and the router configuration shared by the subcommands. */
import { InvalidArgumentError, Option } from 'commander';
import { MAX_EXPERTS, checkOptionTypes, resolveRouterConfig, type RouterOptions } from '../model/router-config.js';
import { BACKENDS, type Backend } from '../router/switched-moe.js';
import { ConfigError } from '../errors.js';
import { CliError } from './cli-errors.js';
import { readJsonFile } from './input.js';
import { IN_PROCESS_BACKENDS, type InProcessBackend } from '../bench/batch-runs.js';
import type { CorpusKind } from '../bench/corpora.js';

/**
 * Every number on the command line is written in decimal: 12, 010 (ten),
 * 0.25, .5, 5e-1, -1 (a sign is allowed; ranges are checked after). Number()
 * alone would also take 0x1, 0b1, 0o1 and Infinity, which made --threshold 0x1 work while --experts 0x10 failed; one
 * syntax for all options instead.
 */
const DECIMAL_INTEGER = /^[+-]?\d+$/;
const DECIMAL_NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** The decimal number written in `text` (surrounding blanks allowed), or null. */
export function parseDecimal(text: string, integer = false): number | null {
  const t = text.trim();
  return (integer ? DECIMAL_INTEGER : DECIMAL_NUMBER).test(t) ? Number(t) : null;
}

export function parseIntIn(min: number, max: number): (v: string) => number {
  return (v: string) => {
    const n = parseDecimal(v, true);
    if (n === null || n < min || n > max) throw new InvalidArgumentError(`expected a decimal integer in ${min}..${max}.`);
    return n;
  };
}

export const parseExperts = parseIntIn(1, MAX_EXPERTS);

/** A TCP port; 0 picks any free one. */
export const parsePort = parseIntIn(0, 65535);

export function parseThreshold(v: string): number {
  const n = parseDecimal(v);
  if (n === null || !Number.isFinite(n) || n <= 0 || n > 1) throw new InvalidArgumentError('expected a decimal number in (0, 1], like 0.6.');
  return n;
}

export function parseNumberList(v: string): number[] {
  const out = v.split(',').map((p) => parseDecimal(p));
  if (out.some((n) => n === null || !Number.isFinite(n))) {
    throw new InvalidArgumentError('expected comma-separated decimal numbers, like 0.2,0.4.');
  }
  return out as number[];
}

export function parseBoundaries(v: string): number[] {
  const out = parseNumberList(v);
  for (let i = 0; i < out.length; i++) {
    if (out[i] <= 0 || out[i] >= 1) throw new InvalidArgumentError('boundaries must be in (0, 1).');
    if (i > 0 && out[i] <= out[i - 1]) throw new InvalidArgumentError(`boundaries must be strictly increasing (${out[i - 1]} then ${out[i]}).`);
  }
  return out;
}

/** Byte sizes: 1048576, 64K, 8M, 1G (powers of 1024). */
export function parseBytes(v: string): number {
  const m = /^\s*(\d+)\s*([kKmMgG]i?[bB]?)?\s*$/.exec(v);
  if (!m) throw new InvalidArgumentError('expected a byte size like 8M, 512K or 1048576.');
  const unit = (m[2] ?? '').charAt(0).toLowerCase();
  const n = Number(m[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1 << 20 : unit === 'g' ? 1 << 30 : 1);
  if (n < 1024 || n > 0xffff_0000) throw new InvalidArgumentError('expected a size from 1K to 4G - 64K.');
  return n;
}

export function parseChoice<T extends string>(choices: readonly T[]): (v: string) => T {
  return (v: string) => {
    if (!(choices as readonly string[]).includes(v)) throw new InvalidArgumentError(`expected one of ${choices.join(', ')}.`);
    return v as T;
  };
}

export const parseBackend = parseChoice<Backend>(BACKENDS);

/**
 * An option with a fixed set of values: the help lists them (commander's
 * choices) and a wrong value gets this module's message.
 */
export function choiceOption<T extends string>(flags: string, description: string, choices: readonly T[]): Option {
  // choices() first: it records the list for the help; argParser() then replaces its check with ours.
  return new Option(flags, description).choices(choices).argParser(parseChoice<T>(choices));
}

/** A byte size as people read it in help: 8 MiB, 64 KiB, 1048577 bytes. */
export function humanBytes(n: number): string {
  for (const [unit, size] of [['GiB', 1 << 30], ['MiB', 1 << 20], ['KiB', 1 << 10]] as const) {
    if (n >= size && n % size === 0) return `${n / size} ${unit}`;
  }
  return `${n} bytes`;
}

export interface RouterCliOptions {
  config?: string;
  experts?: number;
  threshold?: number;
  boundaries?: number[];
}

/** The JSON config file shape: the SwitchedMoE options. */
export interface ConfigFile extends RouterOptions {
  numExperts?: number;
  complexityThreshold?: number;
  boundaries?: number[];
  /** One model (label and costs) per expert: validated by src/cli/models-config.ts. */
  models?: unknown;
}

const CONFIG_KEYS = ['numExperts', 'complexityThreshold', 'boundaries', 'weights', 'caps', 'models'];

export async function loadConfigFile(path: string): Promise<ConfigFile> {
  const value = await readJsonFile(path, 'config');
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new CliError(`config ${path}: expected a JSON object`);
  const unknown = Object.keys(value).filter((k) => !CONFIG_KEYS.includes(k));
  if (unknown.length > 0) throw new CliError(`config ${path}: unknown key${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (known: ${CONFIG_KEYS.join(', ')})`);
  try {
    // a value of the wrong type is an error even where an option overrides it
    checkOptionTypes(value as Record<string, unknown>);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(`invalid router configuration (with config ${path}): ${err.message}`);
    throw err;
  }
  return value as ConfigFile;
}

/** Merges --config with explicit options (explicit ones win) and validates the result. */
export async function routerOptions(o: RouterCliOptions): Promise<RouterOptions> {
  const { models, ...file }: ConfigFile = o.config !== undefined ? await loadConfigFile(o.config) : {};
  const out: RouterOptions = { ...file };
  // a config that names one model per expert sets the expert count
  if (Array.isArray(models) && file.numExperts === undefined && file.boundaries === undefined && o.boundaries === undefined) out.numExperts = models.length;
  if (o.experts !== undefined) {
    out.numExperts = o.experts;
    // boundaries from the file no longer fit a different expert count
    if (o.boundaries === undefined && file.boundaries && file.boundaries.length !== o.experts - 1) delete out.boundaries;
  }
  if (o.threshold !== undefined) {
    out.complexityThreshold = o.threshold;
    if (o.boundaries === undefined) delete out.boundaries;
  }
  if (o.boundaries !== undefined) out.boundaries = o.boundaries;
  try {
    resolveRouterConfig(out);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(`invalid router configuration${o.config ? ` (with config ${o.config})` : ''}: ${err.message}`);
    throw err;
  }
  return out;
}

/* ---- the parsers of calibrate's and bench's options (here, so that declaring them loads neither command) ---- */

/** calibrate --target: shares per expert, normalised to sum to exactly 1. */
export function parseTargets(v: string): number[] {
  const t = parseNumberList(v);
  if (t.length < 2) throw new InvalidArgumentError('give at least two shares, one per expert (e.g. 0.5,0.3,0.2).');
  if (t.length > MAX_EXPERTS) throw new InvalidArgumentError(`give at most ${MAX_EXPERTS} shares, one per expert (got ${t.length}).`);
  if (t.some((x) => x <= 0)) throw new InvalidArgumentError('every share must be > 0.');
  const sum = t.reduce((a, b) => a + b, 0);
  if (Math.abs(sum - 1) > 1e-3) throw new InvalidArgumentError(`shares must sum to 1 (these sum to ${sum}).`);
  return t.map((x) => x / sum);
}

/** calibrate --budget: an amount in the currency of the models' prices. */
export function parseBudget(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0) {
    throw new InvalidArgumentError('expected a number >= 0 (in the currency of the models\' prices), like 12.50.');
  }
  return n;
}

export const BENCH_QUICK_ENV = 'BENCH_QUICK';
export const BENCH_CORPORA: readonly CorpusKind[] = ['short', 'medium', 'long', 'file'];

export function parseCountList(min: number, max: number): (v: string) => number[] {
  return (v: string) =>
    v.split(',').map((s) => {
      const m = /^\s*(\d+)\s*([kKmM]?)\s*$/.exec(s);
      if (!m) throw new InvalidArgumentError(`expected comma-separated counts like 1,100,10k,1M; got "${s}".`);
      const n = Number(m[1]) * (m[2] === '' ? 1 : m[2].toLowerCase() === 'k' ? 1e3 : 1e6);
      if (n < min || n > max) throw new InvalidArgumentError(`counts must be in ${min}..${max}; got ${n}.`);
      return n;
    });
}

export function parseListOf<T extends string>(choices: readonly T[]): (v: string) => T[] {
  return (v: string) =>
    v.split(',').map((s) => {
      const t = s.trim();
      if (!(choices as readonly string[]).includes(t)) throw new InvalidArgumentError(`expected a comma-separated list of ${choices.join(', ')}; got "${t}".`);
      return t as T;
    });
}

export const parseBackendList = parseListOf<InProcessBackend>(IN_PROCESS_BACKENDS);
export const parseCorpusList = parseListOf<CorpusKind>(BENCH_CORPORA);
