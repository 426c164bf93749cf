/**
 * What the score kernel writes per string and the host reads back: two u32,
 * score and expert packed in the first (a Q16 score is at most ONE = 2^16,
 * 17 bits; the expert takes the bits above), the confidence in the second.
 * Generated into score.wgsl (shader-source.ts), unpacked in route-gpu.ts.
 */
import { ONE } from '../../model/fixed-point.js';
import { MAX_EXPERTS } from '../../model/router-config.js';

export const RESULT_WORDS = 2;
/** Bits of a Q16 value in [0, ONE]. */
export const SCORE_BITS = 32 - Math.clz32(ONE);
export const SCORE_MASK = 2 ** SCORE_BITS - 1;

if (MAX_EXPERTS > 2 ** (32 - SCORE_BITS)) {
  throw new Error(`result layout: ${MAX_EXPERTS} experts do not fit the ${32 - SCORE_BITS} bits above the score`);
}
