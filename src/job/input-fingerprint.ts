/**
 * The identity of a route job's input, recorded in --stats so that merge-stats
 * can tell the parts of one input from parts of another.
 *
 * Parts of one --shard run are often routed on different machines, each from
 * its own copy of the file, so what is compared must survive copying: the
 * size and a hash of the first and last SAMPLE_BYTES bytes. The path and the
 * modification time are recorded for people only (a copy has another path or
 * mtime and is still the same input); device and inode are not recorded at all
 * (they mean nothing on another machine). Two files of the same size whose
 * first and last 64 KiB agree are taken to be the same input.
 */
import { createHash } from 'node:crypto';
import { open, stat } from 'node:fs/promises';

export const SAMPLE_BYTES = 64 * 1024;

export interface InputFingerprint {
  /** The input as named on the command line ("stdin" for stdin). */
  path: string;
  /** Size in bytes when the run started; null for stdin, pipes and devices (no identity). */
  size: number | null;
  /** Modification time (ms since the epoch) when the run started; informative, never compared. */
  mtimeMs: number | null;
  /** "sha256:" + hash of the size, the first and the last SAMPLE_BYTES bytes; null without identity. */
  sample: string | null;
}

/** Identity of the input; never throws for an unreadable input (opening it reports that, with the usual message). */
export async function fingerprintInput(path: string | undefined): Promise<InputFingerprint> {
  if (path === undefined || path === '-') return { path: 'stdin', size: null, mtimeMs: null, sample: null };
  const none: InputFingerprint = { path, size: null, mtimeMs: null, sample: null };
  let fh;
  try {
    // stat first: opening a FIFO or a /dev/fd pipe would wait for a writer (or take a reader's place)
    if (!(await stat(path)).isFile()) return none;
    fh = await open(path, 'r');
  } catch {
    return none;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return none;
    const size = st.size;
    const hash = createHash('sha256').update(String(size)).update('\n');
    const head = Buffer.alloc(Math.min(size, SAMPLE_BYTES));
    await fh.read(head, 0, head.length, 0);
    hash.update(head);
    const tailStart = Math.max(head.length, size - SAMPLE_BYTES);
    const tail = Buffer.alloc(size - tailStart);
    if (tail.length > 0) await fh.read(tail, 0, tail.length, tailStart);
    hash.update(tail);
    return { path, size, mtimeMs: st.mtimeMs, sample: `sha256:${hash.digest('hex')}` };
  } catch {
    return none;
  } finally {
    await fh.close();
  }
}

/** Whether two identities name the same input ('' if so, else what differs). Without identity, never the same. */
export function describeInputDifference(a: InputFingerprint, b: InputFingerprint): string {
  if (a.size === null || b.size === null || a.sample === null || b.sample === null) {
    const which = a.size === null ? a.path : b.path;
    return `${which} is not a regular file, so its identity cannot be checked`;
  }
  if (a.size !== b.size) return `${a.path} has ${a.size} bytes, ${b.path} has ${b.size}`;
  if (a.sample !== b.sample) return `${a.path} and ${b.path} have the same size but other content (first/last ${SAMPLE_BYTES / 1024} KiB)`;
  return '';
}
