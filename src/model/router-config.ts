/**
 * Router configuration: validation, expert boundaries and their
 * descriptions. Turns the user's numbers into the integers both backends use.
 */
import { ConfigError, describeValue } from '../errors.js';
import {
  DEFAULT_FEATURES,
  FEATURE_KIND,
  FEATURE_NAMES,
  WEIGHT_SCALE,
  type CompiledModel,
  type FeatureDefinition,
  type FeatureName,
} from './complexity-model.js';
import { ONE } from './fixed-point.js';

export interface ModelOptions {
  /** Relative weight per feature (non-negative; normalised to sum 1). Missing ones keep their default. */
  weights?: Partial<Record<FeatureName, number>>;
  /** Normalisation cap per capped feature (integer 1 .. 65535). */
  caps?: Partial<Record<FeatureName, number>>;
}

export interface RouterOptions extends ModelOptions {
  /** Number of experts, 1 .. 1024. Default 3. */
  numExperts?: number;
  /** Scales the default boundaries, in (0, 1]. Default 0.6. */
  complexityThreshold?: number;
  /** Explicit boundaries (numExperts - 1 of them, strictly increasing, in (0, 1)); override the threshold. */
  boundaries?: readonly number[];
}

export interface RouterConfig {
  numExperts: number;
  complexityThreshold: number;
  /** Boundaries as given or derived, as floats. */
  boundaries: readonly number[];
  /** The same, in Q16: what routing actually compares against. */
  boundariesQ16: readonly number[];
  model: CompiledModel;
  expertDescriptions: Readonly<Record<number, string>>;
}

export const MAX_EXPERTS = 1024;

/** Up to this many experts, k/N cut to two decimals still gives distinct values (100k/N steps by >= 1). */
const TWO_DECIMAL_EXPERTS = 100;

/**
 * Default boundaries: threshold x k/N. Up to 100 experts k/N is truncated to
 * two decimals, so that 3 experts at threshold 0.6 give the notebook's
 * 0.6 x 0.33 and 0.6 x 0.66 exactly, and 2 or 4 experts give halves and
 * quarters; past 100 the cut would repeat values, so k/N itself is used.
 */
export function defaultBoundaries(numExperts: number, threshold: number): number[] {
  const out: number[] = [];
  for (let k = 1; k < numExperts; k++) {
    out.push(numExperts <= TWO_DECIMAL_EXPERTS ? (threshold * Math.floor((100 * k) / numExperts)) / 100 : (threshold * k) / numExperts);
  }
  return out;
}

/** A value in a message: numbers as they are, anything else by its type (never NaN or [object Object]). */
function got(value: unknown): string {
  return typeof value === 'number' ? String(value) : describeValue(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * The types of the options, checked before any arithmetic on them: a JSON
 * config may hold a string, an array or an object anywhere. Exported for
 * the CLI, which checks a --config file's types even where options override it.
 */
export function checkOptionTypes(options: Readonly<Record<string, unknown>>): void {
  const { numExperts, complexityThreshold, boundaries, weights, caps } = options;
  if (numExperts !== undefined && !Number.isInteger(numExperts)) {
    throw new ConfigError(`numExperts must be an integer in 1..${MAX_EXPERTS}, got ${got(numExperts)}`);
  }
  if (complexityThreshold !== undefined && typeof complexityThreshold !== 'number') {
    throw new ConfigError(`complexityThreshold must be a number in (0, 1], got ${got(complexityThreshold)}`);
  }
  if (boundaries !== undefined) {
    if (!Array.isArray(boundaries)) throw new ConfigError(`boundaries must be an array of numbers, got ${got(boundaries)}`);
    boundaries.forEach((b: unknown, i) => {
      if (typeof b !== 'number') throw new ConfigError(`boundaries[${i}] must be a number in (0, 1), got ${got(b)}`);
    });
  }
  for (const [key, value] of [['weights', weights], ['caps', caps]] as const) {
    if (value !== undefined && !isPlainObject(value)) throw new ConfigError(`${key} must be an object of feature names and numbers, got ${got(value)}`);
  }
}

function compileModel(options: ModelOptions): CompiledModel {
  const weights = options.weights ?? {};
  const caps = options.caps ?? {};
  for (const name of [...Object.keys(weights), ...Object.keys(caps)]) {
    if (!(FEATURE_NAMES as readonly string[]).includes(name)) {
      throw new ConfigError(`unknown feature "${name}"; features are: ${FEATURE_NAMES.join(', ')}`);
    }
  }
  const features: FeatureDefinition[] = DEFAULT_FEATURES.map((f) => {
    // own keys only: a config's weights object must not find "constructor" and the like on its prototype
    const givenWeight: unknown = Object.hasOwn(weights, f.name) ? weights[f.name] : undefined;
    const weight = givenWeight === undefined ? f.weight : givenWeight;
    if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0) {
      throw new ConfigError(`weight of "${f.name}" must be a finite number >= 0, got ${got(weight)}`);
    }
    const givenCap: unknown = Object.hasOwn(caps, f.name) ? caps[f.name] : undefined;
    const cap = givenCap === undefined ? f.cap : givenCap;
    if (givenCap !== undefined && f.kind === FEATURE_KIND.RATIO) {
      throw new ConfigError(`feature "${f.name}" is a ratio and has no cap`);
    }
    if (typeof cap !== 'number' || !Number.isInteger(cap) || cap < 1 || cap > 65535) {
      throw new ConfigError(`cap of "${f.name}" must be an integer in 1..65535, got ${got(cap)}`);
    }
    return { ...f, weight, cap };
  });
  const total = features.reduce((s, f) => s + f.weight, 0);
  if (total <= 0) throw new ConfigError('at least one feature weight must be > 0');
  const weightsInt = features.map((f) => Math.round((f.weight / total) * WEIGHT_SCALE));
  const weightSum = weightsInt.reduce((s, w) => s + w, 0);
  if (weightSum === 0) throw new ConfigError('feature weights are all too small to matter');
  return { features, weightsInt, weightSum };
}

function describeExperts(boundaries: readonly number[]): Record<number, string> {
  const n = boundaries.length + 1;
  // three decimals read best, but with many experts they would show ranges like [0.001, 0.001)
  const gap = Math.min(1, ...boundaries.map((b, i) => b - (i === 0 ? 0 : boundaries[i - 1])));
  const digits = gap >= 0.002 ? 3 : 5;
  const fmt = (x: number): string => x.toFixed(digits);
  const out: Record<number, string> = {};
  for (let e = 0; e < n; e++) {
    const lo = e === 0 ? 0 : boundaries[e - 1];
    const hi = e === n - 1 ? 1 : boundaries[e];
    const range = e === n - 1 ? `[${fmt(lo)}, ${fmt(hi)}]` : `[${fmt(lo)}, ${fmt(hi)})`;
    let what: string;
    if (n === 1) what = 'every input';
    else if (e === 0) what = 'simple inputs: short common words, plain lowercase text';
    else if (e === n - 1) what = 'complex inputs: long tokens, symbols, code, mixed scripts';
    else if (n === 3) what = 'medium inputs: several short tokens, some capitals or digits';
    else what = `inputs of complexity band ${e + 1} of ${n}`;
    out[e] = `Expert ${e}: ${what}; complexity in ${range}`;
  }
  return out;
}

export function resolveRouterConfig(options: RouterOptions = {}): RouterConfig {
  checkOptionTypes(options as Readonly<Record<string, unknown>>);
  const explicit = options.boundaries;
  const numExperts = options.numExperts ?? (explicit ? explicit.length + 1 : 3);
  if (!Number.isInteger(numExperts) || numExperts < 1 || numExperts > MAX_EXPERTS) {
    throw new ConfigError(`numExperts must be an integer in 1..${MAX_EXPERTS}, got ${numExperts}`);
  }
  const threshold = options.complexityThreshold ?? 0.6;
  if (!Number.isFinite(threshold) || threshold <= 0 || threshold > 1) {
    throw new ConfigError(`complexityThreshold must be in (0, 1], got ${threshold}`);
  }
  let boundaries: number[];
  if (explicit) {
    if (explicit.length !== numExperts - 1) {
      throw new ConfigError(`${numExperts} experts need ${numExperts - 1} boundaries, got ${explicit.length}`);
    }
    boundaries = [...explicit];
    for (const b of boundaries) {
      if (!Number.isFinite(b) || b <= 0 || b >= 1) throw new ConfigError(`boundaries must be in (0, 1), got ${b}`);
    }
  } else {
    boundaries = defaultBoundaries(numExperts, threshold);
  }
  const boundariesQ16 = boundaries.map((b) => Math.round(b * ONE));
  const collapsed = boundariesQ16.some((b, i) => b <= 0 || (i > 0 && b <= boundariesQ16[i - 1]));
  if (!explicit && collapsed) {
    throw new ConfigError(
      `${numExperts} experts need ${numExperts - 1} distinct boundaries below the threshold ${threshold} at a resolution of 1/${ONE}; use a larger threshold or fewer experts`,
    );
  }
  for (let i = 1; i < boundariesQ16.length; i++) {
    if (boundariesQ16[i] <= boundariesQ16[i - 1]) {
      throw new ConfigError(
        `boundaries must be strictly increasing (at a resolution of 1/${ONE}), got ${boundaries[i - 1]} then ${boundaries[i]}`,
      );
    }
  }
  if (boundariesQ16.some((b) => b <= 0 || b >= ONE)) {
    throw new ConfigError(`boundaries must be in (0, 1) at a resolution of 1/${ONE}, got ${boundaries.join(', ')}`);
  }
  return {
    numExperts,
    complexityThreshold: threshold,
    boundaries,
    boundariesQ16,
    model: compileModel(options),
    expertDescriptions: describeExperts(boundaries),
  };
}
