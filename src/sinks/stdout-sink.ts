/**
 * Buffered writer to a Node Writable (stdout) that waits for 'drain', so a
 * slow consumer (a pipe) slows the run down instead of filling memory.
 */
import type { Writable } from 'node:stream';

export class StreamSink {
  private pending: string[] = [];
  private pendingChars = 0;
  private failure: Error | null = null;

  constructor(
    private readonly out: Writable,
    private readonly bufferChars = 1 << 20,
  ) {
    out.on('error', (err: Error) => {
      this.failure = err;
    });
  }

  async write(data: string): Promise<void> {
    this.pending.push(data);
    this.pendingChars += data.length;
    if (this.pendingChars >= this.bufferChars) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.pendingChars === 0) return;
    const text = this.pending.join('');
    this.pending = [];
    this.pendingChars = 0;
    if (!this.out.write(text)) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = (): void => {
          this.out.off('error', onError);
          resolve();
        };
        const onError = (err: Error): void => {
          this.out.off('drain', onDrain);
          reject(err);
        };
        this.out.once('drain', onDrain);
        this.out.once('error', onError);
      });
    }
    if (this.failure) throw this.failure;
  }
}
