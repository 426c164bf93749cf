/**
 * What both fast kernels (WebAssembly and JavaScript) are given: the
 * complexity model's tables and layout, taken from src/model and never
 * written down again. The WebAssembly kernel receives them in its memory
 * (wasm-kernel.ts); kernel.c holds no model constant.
 */
import {
  BYTE_CLASS,
  BYTE_CLASS_COUNT,
  BYTE_CLASS_TABLE,
  CLASS_STAT_OFFSET,
  FEATURE_KIND,
  MIX_CLASS_TABLE,
  STAT,
  VALUE,
  VALUE_COUNT,
} from '../../model/complexity-model.js';
import { FRACTION_BITS } from '../../model/fixed-point.js';
import type { RouterConfig } from '../../model/router-config.js';

/**
 * Order of the kernel's parameter words: the ABI with the P_* enum of
 * kernel.c. A mismatch cannot pass the exactness tests.
 */
export const KERNEL_PARAMS = [
  'CLASS_COUNT',
  'CLASS_WHITESPACE',
  'CLASS_CONTINUATION',
  'STAT_BYTES',
  'STAT_CHARS',
  'CLASS_STAT_OFFSET',
  'STAT_TOKENS',
  'STAT_TRANSITIONS',
  'VALUE_NON_WS_CHARS',
  'VALUE_DISTINCT_BYTES',
  'VALUE_COUNT',
  'KIND_RATIO',
  'KIND_CAPPED',
  'KIND_MEAN_CAPPED',
  'FRACTION_BITS',
  'FEATURE_COUNT',
  'WEIGHT_SUM',
  'BOUNDARY_COUNT',
] as const;
export type KernelParam = (typeof KERNEL_PARAMS)[number];

/** Per (previous class, class), as in the statistics definition: a non-whitespace byte after whitespace starts a token; two adjacent non-whitespace bytes of different mix classes make a transition. */
function pairTables(): { tokenStart: Uint8Array; transition: Uint8Array } {
  const tokenStart = new Uint8Array(BYTE_CLASS_COUNT * BYTE_CLASS_COUNT);
  const transition = new Uint8Array(BYTE_CLASS_COUNT * BYTE_CLASS_COUNT);
  for (let p = 0; p < BYTE_CLASS_COUNT; p++) {
    for (let c = 0; c < BYTE_CLASS_COUNT; c++) {
      if (c === BYTE_CLASS.WHITESPACE) continue;
      if (p === BYTE_CLASS.WHITESPACE) tokenStart[p * BYTE_CLASS_COUNT + c] = 1;
      else if (MIX_CLASS_TABLE[p] !== MIX_CLASS_TABLE[c]) transition[p * BYTE_CLASS_COUNT + c] = 1;
    }
  }
  return { tokenStart, transition };
}

/** The model-wide tables: the same for every router configuration. */
export interface ModelTables {
  byteClass: Uint8Array;
  tokenStart: Uint8Array;
  transition: Uint8Array;
}

const pairs = pairTables();
export const MODEL_TABLES: ModelTables = {
  byteClass: BYTE_CLASS_TABLE,
  tokenStart: pairs.tokenStart,
  transition: pairs.transition,
};

/** One router configuration's tables. */
export interface ConfigTables {
  params: Record<KernelParam, number>;
  featureKind: Uint32Array;
  featureNum: Uint32Array;
  featureDen: Uint32Array;
  featureCap: Uint32Array;
  featureWeight: Uint32Array;
  boundaries: Uint32Array;
}

export function configTables(config: RouterConfig): ConfigTables {
  const f = config.model.features;
  return {
    params: {
      CLASS_COUNT: BYTE_CLASS_COUNT,
      CLASS_WHITESPACE: BYTE_CLASS.WHITESPACE,
      CLASS_CONTINUATION: BYTE_CLASS.CONTINUATION,
      STAT_BYTES: STAT.BYTES,
      STAT_CHARS: STAT.CHARS,
      CLASS_STAT_OFFSET,
      STAT_TOKENS: STAT.TOKENS,
      STAT_TRANSITIONS: STAT.TRANSITIONS,
      VALUE_NON_WS_CHARS: VALUE.NON_WS_CHARS,
      VALUE_DISTINCT_BYTES: VALUE.DISTINCT_BYTES,
      VALUE_COUNT,
      KIND_RATIO: FEATURE_KIND.RATIO,
      KIND_CAPPED: FEATURE_KIND.CAPPED,
      KIND_MEAN_CAPPED: FEATURE_KIND.MEAN_CAPPED,
      FRACTION_BITS,
      FEATURE_COUNT: f.length,
      WEIGHT_SUM: config.model.weightSum,
      BOUNDARY_COUNT: config.boundariesQ16.length,
    },
    featureKind: Uint32Array.from(f, (x) => x.kind),
    featureNum: Uint32Array.from(f, (x) => x.num),
    featureDen: Uint32Array.from(f, (x) => x.den),
    featureCap: Uint32Array.from(f, (x) => x.cap),
    featureWeight: Uint32Array.from(config.model.weightsInt),
    boundaries: Uint32Array.from(config.boundariesQ16),
  };
}

/** Where a kernel writes its results: caller-owned, reused, at least `count` long. */
export interface RouteOutput {
  experts: Uint32Array;
  scoresQ16: Uint32Array;
  confidenceQ16: Uint32Array;
}

/** A synchronous fused kernel. */
export interface FastKernel {
  readonly kind: 'wasm' | 'js';
  /** Routes records 0..count-1: record i is bytes[offsets[i], offsets[i + 1]). Writes out[0..count). */
  routeInto(bytes: Uint8Array, offsets: Uint32Array, count: number, config: RouterConfig, out: RouteOutput): void;
}

/** Checks routeInto's arguments once per call (a wrong count would read past the offsets). */
export function checkRouteArguments(bytes: Uint8Array, offsets: Uint32Array, count: number, out: RouteOutput): void {
  if (!Number.isInteger(count) || count < 0 || offsets.length < count + 1) {
    throw new RangeError(`routeInto: ${count} records need ${count + 1} offsets, got ${offsets.length}`);
  }
  if (out.experts.length < count || out.scoresQ16.length < count || out.confidenceQ16.length < count) {
    throw new RangeError(`routeInto: the output arrays must hold ${count} results`);
  }
  if (count > 0 && (offsets[count] > bytes.length || offsets[count] < offsets[0])) {
    throw new RangeError(`routeInto: the offsets end at ${offsets[count]}, outside bytes (${bytes.length})`);
  }
}
