/**
 * The process's standard streams, as a filter needs them.
 *
 * - stdout closed by the caller (`moe-router route big.txt >&-`): Node reopens
 *   fds 0-2 on /dev/null (read-write) when they are closed at start-up, so the
 *   output would vanish with exit 0. On Linux we can tell: fd 1 is /dev/null
 *   opened O_RDWR, which no shell redirection (`> /dev/null` is O_WRONLY) gives.
 * - stderr whose reader went away: a summary we cannot print is not a failure
 *   of the run, so errors on stderr are ignored.
 */
import { readFileSync, readlinkSync } from 'node:fs';

const O_ACCMODE = 0o3;
const O_RDWR = 0o2;

export function stdoutWasClosed(): boolean {
  if (process.platform !== 'linux') return false;
  try {
    if (readlinkSync('/proc/self/fd/1') !== '/dev/null') return false;
    const flags = /^flags:\s*([0-7]+)/m.exec(readFileSync('/proc/self/fdinfo/1', 'utf8'));
    return flags !== null && (parseInt(flags[1], 8) & O_ACCMODE) === O_RDWR;
  } catch {
    return false;
  }
}

export function ignoreStderrErrors(): void {
  process.stderr.on('error', () => undefined);
}
