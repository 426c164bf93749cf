/**
 * The record limit (--max-record-bytes). It is checked while a record grows,
 * not when it ends: an input without line ends (/dev/zero) must stop with a
 * clear message, not fill memory.
 */

/**
 * 256 MiB: a record is held about twice while it is gathered (its chunks,
 * then the batch), so one record costs at most ~512 MiB on top of the
 * batches, and an input without line ends fails after 256 MiB instead of
 * growing until the machine runs out of memory. Longer records: raise it
 * (--max-record-bytes, up to 4G - 64K for lines).
 */
export const DEFAULT_MAX_RECORD_BYTES = 256 * 1024 * 1024;

/** Human size for messages: 256 MiB, 1.5 GiB, 4 KiB, 1000 bytes. */
export function formatSize(n: number): string {
  if (n >= 1 << 30 && n % (1 << 20) === 0) return `${+(n / (1 << 30)).toFixed(2)} GiB`;
  if (n >= 1 << 20 && n % 1024 === 0) return `${+(n / (1 << 20)).toFixed(2)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

export function tooLongMessage(max: number): string {
  return `the record is longer than ${formatSize(max)} (--max-record-bytes ${max}); raise --max-record-bytes if such records are real`;
}
