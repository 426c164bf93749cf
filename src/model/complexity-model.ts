/**
 * The complexity model, defined once. The CPU reference (src/backends/cpu-reference) evaluates
 * these tables directly; the GPU shaders receive the same tables as generated
 * WGSL constants (src/backends/gpu/shader-source.ts). Nothing here is duplicated by hand
 * in a .wgsl file.
 *
 * Pipeline: UTF-8 bytes -> integer statistics (STAT_*) -> derived values
 * (VALUE_*) -> features in Q16 fixed point -> weighted mean = score in Q16.
 */
import { ONE, cappedQ16, countOneBits, meanCappedQ16, ratioQ16 } from './fixed-point.js';

// ---------------------------------------------------------------------------
// Byte classes. Every byte value maps to exactly one class.

export const BYTE_CLASS = {
  WHITESPACE: 0,
  UPPER: 1,
  LOWER: 2,
  DIGIT: 3,
  PUNCT: 4,
  CONTROL: 5,
  /** First byte of a multi-byte UTF-8 sequence (0xC0-0xFF): one non-ASCII character. */
  NON_ASCII: 6,
  /** UTF-8 continuation byte (0x80-0xBF): part of the previous character, not a character. */
  CONTINUATION: 7,
} as const;
export const BYTE_CLASS_COUNT = 8;

function classOf(b: number): number {
  if (b === 0x20 || (b >= 0x09 && b <= 0x0d)) return BYTE_CLASS.WHITESPACE;
  if (b >= 0x41 && b <= 0x5a) return BYTE_CLASS.UPPER;
  if (b >= 0x61 && b <= 0x7a) return BYTE_CLASS.LOWER;
  if (b >= 0x30 && b <= 0x39) return BYTE_CLASS.DIGIT;
  if (b < 0x20 || b === 0x7f) return BYTE_CLASS.CONTROL;
  if (b < 0x80) return BYTE_CLASS.PUNCT; // the remaining printable ASCII: punctuation and symbols
  if (b < 0xc0) return BYTE_CLASS.CONTINUATION;
  return BYTE_CLASS.NON_ASCII;
}

/** Class of every byte value, the table both sides index. */
export const BYTE_CLASS_TABLE: Uint8Array = Uint8Array.from({ length: 256 }, (_, b) => classOf(b));

/**
 * Per class, the class used to detect "mixing" (a change of character class
 * between two adjacent non-whitespace bytes): a continuation byte belongs to
 * the character it continues, so it counts as NON_ASCII and never starts a
 * transition inside a well-formed multi-byte character.
 */
export const MIX_CLASS_TABLE: Uint8Array = Uint8Array.from({ length: BYTE_CLASS_COUNT }, (_, c) =>
  c === BYTE_CLASS.CONTINUATION ? BYTE_CLASS.NON_ASCII : c,
);

// ---------------------------------------------------------------------------
// Statistics: what the statistics pass counts per string. Layout of one
// string's record in the statistics buffer (u32 each). Every entry is a sum or
// a bitwise OR over the string's bytes, so a string can be split into chunks
// that are counted independently and combined: that is what lets the GPU
// spread one long string over many invocations.

export const STAT = {
  BYTES: 0,
  /** Characters: bytes that are not UTF-8 continuation bytes. */
  CHARS: 1,
  /** Per byte class, in BYTE_CLASS order, except CONTINUATION (= BYTES - CHARS). */
  WHITESPACE: 2,
  UPPER: 3,
  LOWER: 4,
  DIGIT: 5,
  PUNCT: 6,
  CONTROL: 7,
  NON_ASCII: 8,
  /** Maximal runs of non-whitespace bytes. */
  TOKENS: 9,
  /** Adjacent non-whitespace bytes whose (mix) classes differ, e.g. `a(` or `x1`. */
  TRANSITIONS: 10,
  /** 256-bit set of the byte values present: 8 words. */
  BYTE_SET: 11,
} as const;
export const BYTE_SET_WORDS = 8;
export const STATS_STRIDE = STAT.BYTE_SET + BYTE_SET_WORDS; // 19 u32 per string

/** Offset of class `c`'s counter in a statistics record (CONTINUATION has none). */
export const CLASS_STAT_OFFSET = STAT.WHITESPACE;

/** The statistics of one string, named. */
export interface CharacterStatistics {
  bytes: number;
  chars: number;
  whitespace: number;
  upper: number;
  lower: number;
  digits: number;
  punctuation: number;
  control: number;
  nonAscii: number;
  tokens: number;
  transitions: number;
  distinctBytes: number;
}

// ---------------------------------------------------------------------------
// Values: the statistics plus two derived quantities, indexed by features.

const { BYTE_SET: _byteSet, ...COUNTS } = STAT;
export const VALUE = {
  /** BYTES .. TRANSITIONS: the counts of the statistics record, at the same indices. */
  ...COUNTS,
  /** CHARS - WHITESPACE */
  NON_WS_CHARS: STAT.BYTE_SET,
  /** popcount(BYTE_SET) */
  DISTINCT_BYTES: STAT.BYTE_SET + 1,
} as const;
export const VALUE_COUNT = VALUE.DISTINCT_BYTES + 1;

/** Derived values from one statistics record at `base`, the same steps as derive_values() in score.wgsl. */
export function deriveValues(stats: Uint32Array, base: number, out: Uint32Array): void {
  for (let k = 0; k <= STAT.TRANSITIONS; k++) out[k] = stats[base + k];
  out[VALUE.NON_WS_CHARS] = stats[base + STAT.CHARS] - stats[base + STAT.WHITESPACE];
  let distinct = 0;
  for (let w = 0; w < BYTE_SET_WORDS; w++) distinct += countOneBits(stats[base + STAT.BYTE_SET + w]);
  out[VALUE.DISTINCT_BYTES] = distinct;
}

// ---------------------------------------------------------------------------
// Features: each maps values to [0, ONE].

export const FEATURE_KIND = {
  /** min(num, den) / den */
  RATIO: 0,
  /** min(num, cap) / cap */
  CAPPED: 1,
  /** min(1, (num / den) / cap) */
  MEAN_CAPPED: 2,
} as const;
export type FeatureKind = (typeof FEATURE_KIND)[keyof typeof FEATURE_KIND];

export interface FeatureDefinition {
  name: FeatureName;
  kind: FeatureKind;
  num: number;
  /** Denominator value index; unused (0) for CAPPED. */
  den: number;
  /** Normalisation cap, 1 .. 65535; unused (1) for RATIO. */
  cap: number;
  weight: number;
  describe: string;
}

export const FEATURE_NAMES = [
  'length',
  'tokenLength',
  'tokens',
  'punctuation',
  'digits',
  'uppercase',
  'nonAscii',
  'control',
  'diversity',
  'mixing',
] as const;
export type FeatureName = (typeof FEATURE_NAMES)[number];

/** The default model: order is FEATURE_NAMES order. */
export const DEFAULT_FEATURES: readonly FeatureDefinition[] = [
  { name: 'length', kind: FEATURE_KIND.CAPPED, num: VALUE.CHARS, den: 0, cap: 32, weight: 0.24,
    describe: 'characters, saturating at the cap' },
  { name: 'tokenLength', kind: FEATURE_KIND.MEAN_CAPPED, num: VALUE.NON_WS_CHARS, den: VALUE.TOKENS, cap: 9, weight: 0.23,
    describe: 'mean token length in characters, saturating at the cap' },
  { name: 'tokens', kind: FEATURE_KIND.CAPPED, num: VALUE.TOKENS, den: 0, cap: 16, weight: 0.04,
    describe: 'whitespace-separated tokens, saturating at the cap' },
  { name: 'punctuation', kind: FEATURE_KIND.RATIO, num: VALUE.PUNCT, den: VALUE.CHARS, cap: 1, weight: 0.15,
    describe: 'share of ASCII punctuation and symbols among characters' },
  { name: 'digits', kind: FEATURE_KIND.RATIO, num: VALUE.DIGIT, den: VALUE.CHARS, cap: 1, weight: 0.06,
    describe: 'share of digits among characters' },
  { name: 'uppercase', kind: FEATURE_KIND.RATIO, num: VALUE.UPPER, den: VALUE.CHARS, cap: 1, weight: 0.12,
    describe: 'share of ASCII capitals among characters' },
  { name: 'nonAscii', kind: FEATURE_KIND.RATIO, num: VALUE.NON_ASCII, den: VALUE.CHARS, cap: 1, weight: 0.04,
    describe: 'share of non-ASCII characters (accents, CJK, emoji, ...)' },
  { name: 'control', kind: FEATURE_KIND.RATIO, num: VALUE.CONTROL, den: VALUE.CHARS, cap: 1, weight: 0.01,
    describe: 'share of control characters (NUL, ESC, ...; not tab/CR/LF)' },
  { name: 'diversity', kind: FEATURE_KIND.CAPPED, num: VALUE.DISTINCT_BYTES, den: 0, cap: 18, weight: 0.07,
    describe: 'distinct byte values, saturating at the cap' },
  { name: 'mixing', kind: FEATURE_KIND.RATIO, num: VALUE.TRANSITIONS, den: VALUE.CHARS, cap: 1, weight: 0.04,
    describe: 'class changes inside tokens (a1, x(y), camelCase) per character' },
];

/** Integer weights sum to about this (so weights given to 4 decimals are exact); the score divides by their exact sum. sum(w) * ONE must stay below 2^32. */
export const WEIGHT_SCALE = 10000;

/** A model ready to evaluate: integer weights, validated caps. */
export interface CompiledModel {
  features: readonly FeatureDefinition[];
  /** Integer weight per feature, FEATURE_NAMES order. */
  weightsInt: readonly number[];
  weightSum: number;
}

/** Q16 value of one feature. The WGSL twin is feature_q16() in score.wgsl. */
export function featureQ16(f: FeatureDefinition, values: Uint32Array): number {
  const num = values[f.num];
  switch (f.kind) {
    case FEATURE_KIND.RATIO: {
      const den = values[f.den];
      return ratioQ16(Math.min(num, den), den);
    }
    case FEATURE_KIND.CAPPED:
      return cappedQ16(num, f.cap);
    case FEATURE_KIND.MEAN_CAPPED:
      return meanCappedQ16(num, values[f.den], f.cap);
  }
}

/** Score in Q16 ([0, ONE]) from derived values: floor(sum(w_i * f_i) / sum(w_i)). */
export function scoreQ16(model: CompiledModel, values: Uint32Array): number {
  let acc = 0;
  for (let i = 0; i < model.features.length; i++) {
    acc += model.weightsInt[i] * featureQ16(model.features[i], values);
  }
  return Math.floor(acc / model.weightSum);
}

// ---------------------------------------------------------------------------
// Experts: boundaries and confidence, both in Q16.

/** Expert = number of boundaries at or below the score (a score on a boundary goes up). */
export function expertOf(score: number, boundariesQ16: readonly number[]): number {
  let e = 0;
  for (const b of boundariesQ16) if (score >= b) e++;
  return e;
}

/**
 * Confidence in Q16: 0 on a boundary, ONE at the point of the expert's
 * interval that is farthest from every boundary, linear in between. The
 * outer experts' intervals end at 0 and ONE, which are not boundaries.
 */
export function confidenceQ16(score: number, expert: number, boundariesQ16: readonly number[]): number {
  const n = boundariesQ16.length;
  if (n === 0) return ONE;
  const lo = expert === 0 ? 0 : boundariesQ16[expert - 1];
  const hi = expert === n ? ONE : boundariesQ16[expert];
  let dist: number;
  let span: number;
  if (expert === 0) {
    dist = hi - score;
    span = hi;
  } else if (expert === n) {
    dist = score - lo;
    span = ONE - lo;
  } else {
    dist = Math.min(score - lo, hi - score);
    span = (hi - lo) >>> 1;
  }
  if (span === 0) return 0;
  return ratioQ16(Math.min(dist, span), span);
}

export { ONE };
