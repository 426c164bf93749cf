/**
 * The ByteWriter contract the parallel path relies on to give output buffers
 * back to the workers: once write() resolves, the writer holds no reference
 * to the bytes, so overwriting them changes nothing that is written.
 */
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { AtomicFile } from '../src/sinks/atomic-file.js';
import { StreamSink } from '../src/sinks/stdout-sink.js';
import { tempDir } from './helpers/cli.js';

const tmp = tempDir('moe-writers-');
afterAll(() => tmp.cleanup());

/** Writes parts of several sizes from ONE reused buffer, scribbling over it after each write. */
async function writeReusing(write: (d: Uint8Array) => Promise<void>): Promise<Buffer> {
  const reused = new Uint8Array(5000);
  const want: Buffer[] = [];
  for (const [k, size] of [10, 4000, 1, 2500, 5000, 7, 300].entries()) {
    reused.fill(0x61 + k, 0, size);
    await write(reused.subarray(0, size));
    want.push(Buffer.from(reused.subarray(0, size)));
    reused.fill(0x21); // the caller reuses its memory
  }
  return Buffer.concat(want);
}

describe('ByteWriter: the bytes are the writer\'s own once write() resolves', () => {
  it('AtomicFile, with a buffer smaller and larger than the parts', async () => {
    for (const bufferBytes of [16, 3000, 1 << 20]) {
      const path = tmp.path(`out-${bufferBytes}.txt`);
      const f = await AtomicFile.open(path, { bufferBytes });
      const want = await writeReusing((d) => f.write(d));
      await f.commit();
      expect(readFileSync(path).equals(want)).toBe(true);
    }
  });

  it('StreamSink (stdout), with a buffer smaller and larger than the parts', async () => {
    for (const bufferBytes of [16, 3000, 1 << 20]) {
      const stream = new PassThrough({ highWaterMark: 1 });
      const got: Buffer[] = [];
      stream.on('data', (c: Buffer) => got.push(Buffer.from(c)));
      const sink = new StreamSink(stream, bufferBytes);
      const want = await writeReusing((d) => sink.write(d));
      await sink.flush();
      stream.end();
      await new Promise((r) => stream.on('end', r));
      expect(Buffer.concat(got).equals(want)).toBe(true);
    }
  });
});
