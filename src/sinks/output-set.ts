/**
 * Every file a run writes (--out, --stats, each shard file, a report), checked
 * before the first record is read and committed together at the end.
 *
 * - Checked up front, by device and inode with symlinks followed: an output
 *   that is an input, two outputs that are the same file, an output that is a
 *   directory, or whose directory is missing or not writable, is refused
 *   before anything is read or written.
 * - All or nothing: every output is written to a temporary file beside its
 *   target; when the run succeeds all are fsynced, then all renamed. When it
 *   fails, every temporary file is removed and no existing file is replaced.
 * - A symlink is followed: its target is replaced and the link stays a link.
 * - An existing file keeps its permission bits.
 * - A path that is neither a regular file nor missing (/dev/null, a FIFO) is
 *   written in place: there is nothing to replace atomically.
 */
import { constants, statSync, type Stats } from 'node:fs';
import { access, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { AtomicFile } from './atomic-file.js';

/** An output refused before the run, with the message the user sees. */
export class OutputPathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutputPathError';
  }
}

/** What we know of one path: where it really is and, if it exists, what it is. */
interface Resolved {
  /** The path as the user gave it. */
  given: string;
  /** The real path of the file that will be written (symlinks followed). */
  target: string;
  stats: Stats | null;
}

export interface InputIdentity {
  /** The path or name as given ("stdin"). */
  name: string;
  stats: Stats;
}

/** The identity of stdin when it is a file (`< corpus.txt`), so that an output cannot overwrite it. */
export function stdinIdentity(): InputIdentity | null {
  try {
    const st = statSync('/dev/stdin');
    return st.isFile() ? { name: 'stdin', stats: st } : null;
  } catch {
    return null;
  }
}

export async function inputIdentity(path: string): Promise<InputIdentity | null> {
  const st = await stat(path).catch(() => null);
  return st ? { name: path, stats: st } : null;
}

const sameFile = (a: Stats, b: Stats): boolean => a.dev === b.dev && a.ino === b.ino;

async function resolveOutput(label: string, given: string): Promise<Resolved> {
  const st = await stat(given).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw new OutputPathError(`cannot write ${label} ${given}: ${err.code === 'EACCES' ? 'permission denied' : err.message}`);
  });
  if (st) return { given, target: await realpath(given), stats: st };
  // Missing: it will be created in its directory (a dangling symlink's target is not followed).
  const dir = dirname(resolve(given));
  const dirReal = await realpath(dir).catch(() => {
    throw new OutputPathError(`cannot write ${label} ${given}: its directory ${dirname(given)} does not exist`);
  });
  return { given, target: join(dirReal, basename(given)), stats: null };
}

export class OutputSet {
  private readonly files: { name: string; file: AtomicFile }[] = [];
  private done = false;

  private constructor() {}

  /**
   * Checks every output against the inputs and each other, then opens a
   * temporary file for each. `outputs` maps a label ("--out", "--stats",
   * "shard file") to the path.
   */
  static async open(outputs: readonly { label: string; path: string }[], inputs: readonly InputIdentity[]): Promise<OutputSet> {
    const resolved: (Resolved & { label: string })[] = [];
    for (const o of outputs) {
      const r = await resolveOutput(o.label, o.path);
      if (r.stats?.isDirectory()) throw new OutputPathError(`cannot write ${o.label} ${o.path}: it is a directory`);
      const inPlace = r.stats !== null && !r.stats.isFile();
      if (!inPlace) {
        const dir = dirname(r.target);
        await access(dir, constants.W_OK).catch(() => {
          throw new OutputPathError(`cannot write ${o.label} ${o.path}: its directory ${dir} is not writable`);
        });
      }
      if (r.stats) {
        for (const input of inputs) {
          if (sameFile(r.stats, input.stats)) {
            throw new OutputPathError(`${o.label} ${o.path} is the input ${input.name}: an output must not overwrite its input`);
          }
        }
      }
      for (const other of resolved) {
        const same = r.stats && other.stats ? sameFile(r.stats, other.stats) && !inPlace : r.target === other.target;
        if (same) throw new OutputPathError(`${o.label} ${o.path} and ${other.label} ${other.given} are the same file: each output needs its own path`);
      }
      resolved.push({ ...r, label: o.label });
    }
    const set = new OutputSet();
    try {
      for (const r of resolved) {
        const file = await AtomicFile.open(r.target, { keepMode: r.stats?.isFile() ? r.stats.mode & 0o7777 : null }).catch((err: NodeJS.ErrnoException) => {
          throw new OutputPathError(`cannot write ${r.label} ${r.given}: ${err.code === 'EACCES' ? 'permission denied' : err.message}`);
        });
        set.files.push({ name: `${r.label} ${r.given}`, file });
      }
    } catch (err) {
      await set.abort();
      throw err;
    }
    return set;
  }

  /** The opened files, in the order given to open(). */
  get(index: number): AtomicFile {
    return this.files[index].file;
  }

  /**
   * Flushes and fsyncs every file, then renames all of them: no target is
   * replaced before every output is complete on disk. `onError` names the
   * output that failed.
   */
  async commit(onError: (name: string, err: unknown) => Error): Promise<void> {
    if (this.done) return;
    try {
      for (const f of this.files) await f.file.prepare().catch((err: unknown) => Promise.reject(onError(f.name, err)));
      for (const f of this.files) await f.file.commit().catch((err: unknown) => Promise.reject(onError(f.name, err)));
      this.done = true;
    } finally {
      if (!this.done) await this.abort();
    }
  }

  /** Removes every temporary file; no target is touched. */
  async abort(): Promise<void> {
    this.done = true;
    for (const f of this.files) await f.file.abort();
  }
}
