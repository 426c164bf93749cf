/**
 * Fixed-point arithmetic shared by the CPU reference and (as WGSL, in
 * shaders/fixed-point.wgsl) by the GPU. Every value is an unsigned integer
 * below 2^32 and every step is one the WGSL code performs identically on
 * `u32`, so both sides produce the same bits. JavaScript doubles represent
 * every integer below 2^53 exactly, so plain `*` and `Math.floor(a / b)` are
 * exact here as long as the operands stay below 2^32, which each helper
 * guarantees.
 */

/** Fractional bits of every fixed-point quantity: 1.0 is represented as 2^16. */
export const FRACTION_BITS = 16;
export const ONE = 1 << FRACTION_BITS;

/** Number of significant bits of a u32 (0 for 0); WGSL: firstLeadingBit(x) + 1. */
export function bitLength(x: number): number {
  return 32 - Math.clz32(x);
}

/**
 * floor(a / b * ONE) for 0 <= a <= b, b > 0, computed in 32 bits: both
 * operands are first shifted right until b fits in 16 bits, so a * 2^16 cannot
 * overflow. The shift costs at most 1/32768 of precision and is done the same
 * way on both sides.
 */
export function ratioQ16(a: number, b: number): number {
  if (b === 0) return 0;
  const shift = Math.max(0, bitLength(b) - FRACTION_BITS);
  const as = a >>> shift;
  const bs = b >>> shift;
  return Math.floor((as * ONE) / bs);
}

/** min(x, cap) / cap in Q16, for 1 <= cap < 2^16. */
export function cappedQ16(x: number, cap: number): number {
  const c = Math.min(x, cap);
  return Math.floor((c * ONE) / cap);
}

/**
 * min(1, a / (b * cap)) in Q16, for 1 <= cap < 2^16: a mean (a per b)
 * saturating at cap, without ever forming b * cap (which could overflow u32).
 */
export function meanCappedQ16(a: number, b: number, cap: number): number {
  if (b === 0) return 0;
  const q = Math.floor(a / b);
  if (q >= cap) return ONE;
  const r = a - q * b;
  return Math.floor((q * ONE + ratioQ16(r, b)) / cap);
}

/** popcount of a u32. */
export function countOneBits(x: number): number {
  let v = x >>> 0;
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  v = (v + (v >>> 4)) & 0x0f0f0f0f;
  return Math.imul(v, 0x01010101) >>> 24;
}

export function toFloat(q: number): number {
  return q / ONE;
}
