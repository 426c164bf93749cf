/**
 * Builds the WGSL each pipeline compiles: a generated constants prelude (the
 * complexity model's tables and the router's boundaries, taken from
 * src/model, never written by hand in WGSL) followed by the shader files.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  BYTE_CLASS,
  BYTE_CLASS_COUNT,
  BYTE_CLASS_TABLE,
  BYTE_SET_WORDS,
  CLASS_STAT_OFFSET,
  FEATURE_KIND,
  MIX_CLASS_TABLE,
  STAT,
  STATS_STRIDE,
  VALUE,
  VALUE_COUNT,
} from '../../model/complexity-model.js';
import { FRACTION_BITS, ONE } from '../../model/fixed-point.js';
import type { RouterConfig } from '../../model/router-config.js';
import { NO_PREVIOUS_BYTE } from '../cpu-reference/statistics.js';
import { RESULT_WORDS, SCORE_BITS } from './result-layout.js';

/** Invocations per workgroup; within the compatibility-mode default limit (128). */
export const WORKGROUP_SIZE = 64;

const SHADER_DIR = fileURLToPath(new URL('./shaders/', import.meta.url));
const cache = new Map<string, string>();

export function readShader(name: string): string {
  let text = cache.get(name);
  if (text === undefined) {
    text = readFileSync(SHADER_DIR + name, 'utf8');
    cache.set(name, text);
  }
  return text;
}

const u32 = (x: number): string => `${x >>> 0}u`;
const u32Array = (values: ArrayLike<number>): string =>
  `array<u32, ${values.length}>(${Array.from(values, u32).join(', ')})`;

function constants(prefix: string, table: Readonly<Record<string, number>>): string[] {
  return Object.entries(table).map(([k, v]) => `const ${prefix}${k}: u32 = ${u32(v)};`);
}

/** Constants every kernel shares: layout, classes, fixed point. */
function modelPrelude(): string[] {
  return [
    `const WORKGROUP_SIZE: u32 = ${u32(WORKGROUP_SIZE)};`,
    `const FRACTION_BITS: u32 = ${u32(FRACTION_BITS)};`,
    `const ONE: u32 = ${u32(ONE)};`,
    `const STATS_STRIDE: u32 = ${u32(STATS_STRIDE)};`,
    `const BYTE_SET_WORDS: u32 = ${u32(BYTE_SET_WORDS)};`,
    `const BYTE_CLASS_COUNT: u32 = ${u32(BYTE_CLASS_COUNT)};`,
    `const CLASS_STAT_OFFSET: u32 = ${u32(CLASS_STAT_OFFSET)};`,
    `const NO_PREVIOUS_BYTE: u32 = ${u32(NO_PREVIOUS_BYTE)};`,
    `const VALUE_COUNT: u32 = ${u32(VALUE_COUNT)};`,
    ...constants('STAT_', STAT),
    ...constants('CLASS_', BYTE_CLASS),
    ...constants('VALUE_', VALUE),
    ...constants('FEATURE_KIND_', FEATURE_KIND),
    `const BYTE_CLASS = ${u32Array(BYTE_CLASS_TABLE)};`,
    `const MIX_CLASS = ${u32Array(MIX_CLASS_TABLE)};`,
  ];
}

/** Constants of one router configuration: feature table, weights, boundaries. */
function configPrelude(config: RouterConfig): string[] {
  const f = config.model.features;
  const b = config.boundariesQ16;
  return [
    `const FEATURE_COUNT: u32 = ${u32(f.length)};`,
    `const FEATURE_KIND = ${u32Array(f.map((x) => x.kind))};`,
    `const FEATURE_NUM = ${u32Array(f.map((x) => x.num))};`,
    `const FEATURE_DEN = ${u32Array(f.map((x) => x.den))};`,
    `const FEATURE_CAP = ${u32Array(f.map((x) => x.cap))};`,
    `const FEATURE_WEIGHT = ${u32Array(config.model.weightsInt)};`,
    `const WEIGHT_SUM: u32 = ${u32(config.model.weightSum)};`,
    `const RESULT_WORDS: u32 = ${u32(RESULT_WORDS)};`,
    `const SCORE_BITS: u32 = ${u32(SCORE_BITS)};`,
    `const BOUNDARY_COUNT: u32 = ${u32(b.length)};`,
    // WGSL has no zero-length arrays: pad with one entry that BOUNDARY_COUNT hides.
    `const BOUNDARIES = ${u32Array(b.length > 0 ? b : [ONE])};`,
  ];
}

const banner = (text: string): string => `// ---- ${text} ----`;

/** The shader without the lines from `// NAME begin` to `// NAME end`; throws if they are missing. */
function withoutBlock(code: string, name: string): string {
  const lines = code.split('\n');
  const begin = lines.findIndex((l) => l.trim().startsWith(`// ${name} begin`));
  const end = lines.findIndex((l) => l.trim() === `// ${name} end`);
  if (begin < 0 || end < begin) throw new Error(`shader block ${name} not found`);
  return [...lines.slice(0, begin), ...lines.slice(end + 1)].join('\n');
}

export interface StatisticsShaderOptions {
  /** Sum the pieces of one long string in workgroup memory before the global atomics. */
  reducePieces: boolean;
}

export function statisticsShaderSource(options: StatisticsShaderOptions): string {
  return [
    banner('generated from src/model'),
    ...modelPrelude(),

    banner('dispatch.wgsl'),
    readShader('dispatch.wgsl'),
    banner(`statistics.wgsl${options.reducePieces ? '' : ', without the REDUCE_PIECES block'}`),
    options.reducePieces ? readShader('statistics.wgsl') : withoutBlock(readShader('statistics.wgsl'), 'REDUCE_PIECES'),
  ].join('\n');
}

export function scoreShaderSource(config: RouterConfig): string {
  return [
    banner('generated from src/model'),
    ...modelPrelude(),
    ...configPrelude(config),
    banner('dispatch.wgsl'),
    readShader('dispatch.wgsl'),
    banner('fixed-point.wgsl'),
    readShader('fixed-point.wgsl'),
    banner('score.wgsl'),
    readShader('score.wgsl'),
  ].join('\n');
}
