/**
 * A batch's records go through a module's fixed-size memory in windows:
 * runs of whole records whose bytes fit `maxBytes` and whose count fits
 * `maxRecords`.
 */

/**
 * The end j of the window starting at record i: the most records from i with
 * offsets[j] - offsets[i] <= maxBytes and j - i <= maxRecords, at least one
 * (a first record longer than maxBytes is the caller's to handle).
 */
export function windowEnd(offsets: Uint32Array, i: number, count: number, maxBytes: number, maxRecords: number): number {
  const start = offsets[i];
  let lo = i + 1;
  let hi = Math.min(count, i + maxRecords);
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (offsets[mid] - start <= maxBytes) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
