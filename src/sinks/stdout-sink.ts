/**
 * Buffered writer to a Node Writable (stdout) that waits for 'drain', so a
 * slow consumer (a pipe) slows the run down instead of filling memory. A
 * reader that went away (EPIPE) is a BrokenPipeError: the CLI then ends as
 * GNU filters do when their reader closes the pipe, quietly.
 */
import type { Writable } from 'node:stream';

/** The reader of our output closed the pipe (`| head -1`). */
export class BrokenPipeError extends Error {
  constructor() {
    super('broken pipe');
    this.name = 'BrokenPipeError';
  }
}

const asBrokenPipe = (err: Error): Error => ((err as NodeJS.ErrnoException).code === 'EPIPE' ? new BrokenPipeError() : err);

export class StreamSink {
  private pending: (string | Uint8Array)[] = [];
  private pendingBytes = 0;
  private failure: Error | null = null;

  constructor(
    private readonly out: Writable,
    private readonly bufferBytes = 1 << 20,
  ) {
    out.on('error', (err: Error) => {
      this.failure = asBrokenPipe(err);
    });
  }

  async write(data: string | Uint8Array): Promise<void> {
    const flushing = this.pendingBytes + data.length >= this.bufferBytes;
    // What stays pending after this call is a copy (ByteWriter: the caller may reuse its memory).
    this.pending.push(flushing || typeof data === 'string' ? data : Uint8Array.prototype.slice.call(data));
    this.pendingBytes += data.length;
    if (flushing) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.pendingBytes === 0) return;
    const parts = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    // Always a string or a buffer of our own: the stream keeps what it is given until it is written,
    // and the callers may reuse their memory once write() resolves (ByteWriter).
    const chunk = parts.every((p) => typeof p === 'string')
      ? (parts as string[]).join('')
      : Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)));
    if (!this.out.write(chunk)) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = (): void => {
          this.out.off('error', onError);
          resolve();
        };
        const onError = (err: Error): void => {
          this.out.off('drain', onDrain);
          reject(asBrokenPipe(err));
        };
        this.out.once('drain', onDrain);
        this.out.once('error', onError);
      });
    }
    if (this.failure) throw this.failure;
  }
}
