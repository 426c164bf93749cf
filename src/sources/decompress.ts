/**
 * Compressed input (gzip, zstd), detected by its first bytes whatever the
 * file is named, decompressed as a stream: the record reader gets the same
 * byte chunks it would get from a plain file, and memory stays bounded by
 * the chunk size (backpressure through node:zlib; fzstd is fed chunk by chunk).
 */
import { Readable, type Transform } from 'node:stream';
import * as zlib from 'node:zlib';
import { MoeRouterError } from '../errors.js';
import { ConfigError } from '../errors.js';
import type { ContainerKind } from './magic.js';
import { loadOptional } from './optional-module.js';

/** The compressions this package decompresses. */
export type Compression = 'gzip' | 'zstd';

export function isCompression(kind: ContainerKind): kind is Compression {
  return kind === 'gzip' || kind === 'zstd';
}

/** What to do instead, for the containers this package does not read. */
/** First bytes of a stream, and the whole stream (those bytes included) to read afterwards. */
export async function peekHead(source: AsyncIterable<Uint8Array>, bytes: number): Promise<{ head: Uint8Array; source: AsyncIterable<Uint8Array> }> {
  const it = source[Symbol.asyncIterator]();
  const taken: Uint8Array[] = [];
  let have = 0;
  let done = false;
  while (have < bytes) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    taken.push(r.value);
    have += r.value.length;
  }
  const head = Buffer.concat(taken, have).subarray(0, bytes);
  async function* replay(): AsyncGenerator<Uint8Array> {
    for (const c of taken) yield c;
    taken.length = 0;
    if (done) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  }
  return { head, source: replay() };
}

type ZstdFactory = () => Transform;

/** node:zlib decompresses zstd from Node 22.15 on; older Nodes use fzstd. */
function nodeZstd(): ZstdFactory | null {
  const f = (zlib as unknown as { createZstdDecompress?: ZstdFactory }).createZstdDecompress;
  return typeof f === 'function' ? () => f.call(zlib) : null;
}

/** Test hook: use fzstd even where node:zlib has zstd. */
export const FORCE_FZSTD_ENV = 'MOE_ROUTER_TEST_FORCE_FZSTD';

function corrupt(compression: Compression, name: string, err: unknown): Error {
  if (err instanceof MoeRouterError || (err instanceof Error && err.name === 'CliError')) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new ConfigError(`${name}: corrupt or truncated ${compression} data: ${detail}`);
}

async function* throughTransform(source: AsyncIterable<Uint8Array>, z: Transform): AsyncGenerator<Uint8Array> {
  const input = Readable.from(source, { objectMode: false });
  input.on('error', (err) => z.destroy(err));
  input.pipe(z);
  try {
    for await (const chunk of z) yield chunk as Uint8Array;
  } finally {
    input.destroy();
    z.destroy();
  }
}

async function* throughFzstd(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const fzstd = await loadOptional('fzstd', `reading zstd-compressed input on Node ${process.versions.node} (node:zlib has zstd from Node 22.15)`, () => import('fzstd'));
  const out: Uint8Array[] = [];
  // fzstd may hand out views of its window, which it reuses: copy what it gives
  const d = new fzstd.Decompress((chunk: Uint8Array) => {
    if (chunk.length > 0) out.push(chunk.slice());
  });
  for await (const chunk of source) {
    d.push(chunk);
    while (out.length > 0) yield out.shift() as Uint8Array;
  }
  d.push(new Uint8Array(0), true);
  while (out.length > 0) yield out.shift() as Uint8Array;
}

/** The decompressed bytes of `source`; a corrupt or truncated stream is a one-line ConfigError naming the input. */
export async function* decompress(source: AsyncIterable<Uint8Array>, compression: Compression, name: string): AsyncGenerator<Uint8Array> {
  let inner: AsyncGenerator<Uint8Array>;
  if (compression === 'gzip') inner = throughTransform(source, zlib.createGunzip());
  else {
    const native = process.env[FORCE_FZSTD_ENV] ? null : nodeZstd();
    inner = native ? throughTransform(source, native()) : throughFzstd(source);
  }
  try {
    for await (const chunk of inner) yield chunk;
  } catch (err) {
    throw corrupt(compression, name, err);
  }
}
