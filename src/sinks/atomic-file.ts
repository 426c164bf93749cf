/**
 * Output files written under a temporary name (FILE.tmp-<pid>-<random>, same
 * directory) and renamed onto FILE only when complete, after fsync. A failed or
 * interrupted run removes its temporary file, so FILE is either the previous
 * content (or absent) or the complete new one. A path that exists and is not a
 * regular file (/dev/null, /dev/stdout, a named pipe) is written directly.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { unlinkSync } from 'node:fs';

const live = new Set<AtomicFile>();

/** Removes every temporary file still open (signal handlers, fatal errors). Synchronous. */
export function removeTemporaryFiles(): void {
  for (const f of live) {
    try {
      if (f.tmpPath) unlinkSync(f.tmpPath);
    } catch {
      // already gone
    }
  }
  live.clear();
}

export class AtomicFile {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private done = false;
  private prepared = false;

  private constructor(
    readonly path: string,
    /** null: written in place (not a regular file). */
    readonly tmpPath: string | null,
    private readonly fh: FileHandle,
    private readonly bufferBytes: number,
  ) {}

  /**
   * `keepMode`: permission bits to give the new file (an existing file's, so
   * that replacing it keeps them); null or absent: the umask's default.
   */
  static async open(path: string, options: { bufferBytes?: number; keepMode?: number | null } = {}): Promise<AtomicFile> {
    const bufferBytes = options.bufferBytes ?? 1 << 20;
    const existing = await stat(path).catch(() => null);
    if (existing && !existing.isFile() && !existing.isDirectory()) {
      return new AtomicFile(path, null, await open(path, 'w'), bufferBytes);
    }
    const tmpPath = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    const fh = await open(tmpPath, 'wx');
    const f = new AtomicFile(path, tmpPath, fh, bufferBytes);
    live.add(f);
    const mode = options.keepMode ?? (existing?.isFile() ? existing.mode & 0o7777 : null);
    if (mode !== null) await fh.chmod(mode).catch(() => undefined);
    return f;
  }

  /** Buffers data; writes when the buffer is full. */
  async write(data: string | Uint8Array): Promise<void> {
    const view = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const flushing = this.pendingBytes + view.length >= this.bufferBytes;
    // What stays pending after this call is a copy: the caller may reuse its memory once write() resolves.
    this.pending.push(flushing || typeof data === 'string' ? view : Buffer.from(Uint8Array.prototype.slice.call(view)));
    this.pendingBytes += view.length;
    if (flushing) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.pendingBytes === 0) return;
    const parts = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    // Small parts joined, large ones written as they are: concatenating would copy a multi-MiB output
    // part to put a few bytes before it, and a write per small part would be a system call each.
    let small: Buffer[] = [];
    const writeAll = async (data: Buffer): Promise<void> => {
      for (let off = 0; off < data.length; ) {
        const { bytesWritten } = await this.fh.write(data, off, data.length - off);
        off += bytesWritten;
      }
    };
    const writeSmall = async (): Promise<void> => {
      if (small.length > 0) await writeAll(small.length === 1 ? small[0] : Buffer.concat(small));
      small = [];
    };
    for (const part of parts) {
      if (part.length < 1 << 16) {
        small.push(part);
        continue;
      }
      await writeSmall();
      await writeAll(part);
    }
    await writeSmall();
  }

  /** Flushes, fsyncs and closes, without renaming yet (see OutputSet: all files are prepared before any is renamed). */
  async prepare(): Promise<void> {
    if (this.prepared || this.done) return;
    try {
      await this.flush();
      if (this.tmpPath !== null) await this.fh.sync();
      await this.fh.close();
      this.prepared = true;
    } catch (err) {
      this.done = true;
      await this.abortQuietly();
      throw err;
    }
  }

  /** Prepares (if not done yet) and renames onto the final path. */
  async commit(): Promise<void> {
    if (this.done) return;
    await this.prepare();
    this.done = true;
    if (this.tmpPath === null) return;
    try {
      await rename(this.tmpPath, this.path);
      live.delete(this);
    } catch (err) {
      await this.abortQuietly();
      throw err;
    }
  }

  /** Closes and removes the temporary file; the final path is untouched. */
  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await this.abortQuietly();
  }

  private async abortQuietly(): Promise<void> {
    live.delete(this);
    if (!this.prepared) await this.fh.close().catch(() => undefined);
    if (this.tmpPath) await unlink(this.tmpPath).catch(() => undefined);
  }
}
