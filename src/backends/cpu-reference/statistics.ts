/**
 * CPU reference of the statistics pass (shaders/statistics.wgsl): counts one
 * run of bytes of a string into its statistics record. Counting a string in
 * one call or in several consecutive runs gives the same record, which is
 * what the GPU relies on when it splits long strings.
 */
import {
  BYTE_CLASS,
  BYTE_CLASS_COUNT,
  BYTE_CLASS_TABLE,
  BYTE_SET_WORDS,
  CLASS_STAT_OFFSET,
  MIX_CLASS_TABLE,
  STAT,
  STATS_STRIDE,
} from '../../model/complexity-model.js';

/** `prevByte` value meaning "this run starts the string". */
export const NO_PREVIOUS_BYTE = 0x100;

// Per (previous class, class) pair: does this byte start a token / make a
// transition? Tables turn the two branches of the definition into lookups.
const TOKEN_START = new Uint8Array(BYTE_CLASS_COUNT * BYTE_CLASS_COUNT);
const TRANSITION = new Uint8Array(BYTE_CLASS_COUNT * BYTE_CLASS_COUNT);
for (let p = 0; p < BYTE_CLASS_COUNT; p++) {
  for (let c = 0; c < BYTE_CLASS_COUNT; c++) {
    if (c === BYTE_CLASS.WHITESPACE) continue;
    if (p === BYTE_CLASS.WHITESPACE) TOKEN_START[p * BYTE_CLASS_COUNT + c] = 1;
    else if (MIX_CLASS_TABLE[p] !== MIX_CLASS_TABLE[c]) TRANSITION[p * BYTE_CLASS_COUNT + c] = 1;
  }
}

// Scratch reused across calls: the reference runs once per string, millions of times.
const classCounts = new Uint32Array(BYTE_CLASS_COUNT);
const byteSet = new Int32Array(BYTE_SET_WORDS);

/**
 * Adds bytes[start, end) to the record at stats[base ..]. `prevByte` is the
 * byte just before `start` in the same string, or NO_PREVIOUS_BYTE.
 */
export function accumulateStatistics(
  bytes: Uint8Array,
  start: number,
  end: number,
  prevByte: number,
  stats: Uint32Array,
  base: number,
): void {
  classCounts.fill(0);
  byteSet.fill(0);
  let tokens = 0;
  let transitions = 0;
  let prevClass = prevByte === NO_PREVIOUS_BYTE ? BYTE_CLASS.WHITESPACE : BYTE_CLASS_TABLE[prevByte];
  for (let i = start; i < end; i++) {
    const b = bytes[i];
    const c = BYTE_CLASS_TABLE[b];
    classCounts[c]++;
    byteSet[b >>> 5] |= 1 << (b & 31);
    const pair = prevClass * BYTE_CLASS_COUNT + c;
    tokens += TOKEN_START[pair];
    transitions += TRANSITION[pair];
    prevClass = c;
  }
  const n = end - start;
  stats[base + STAT.BYTES] += n;
  stats[base + STAT.CHARS] += n - classCounts[BYTE_CLASS.CONTINUATION];
  for (let c = 0; c < BYTE_CLASS.CONTINUATION; c++) stats[base + CLASS_STAT_OFFSET + c] += classCounts[c];
  stats[base + STAT.TOKENS] += tokens;
  stats[base + STAT.TRANSITIONS] += transitions;
  for (let w = 0; w < BYTE_SET_WORDS; w++) stats[base + STAT.BYTE_SET + w] |= byteSet[w];
}

/** Statistics of every string of a packed batch, STATS_STRIDE u32 each. */
export function computeStatistics(bytes: Uint8Array, offsets: Uint32Array): Uint32Array {
  const n = offsets.length - 1;
  const stats = new Uint32Array(n * STATS_STRIDE);
  for (let s = 0; s < n; s++) {
    accumulateStatistics(bytes, offsets[s], offsets[s + 1], NO_PREVIOUS_BYTE, stats, s * STATS_STRIDE);
  }
  return stats;
}
