/** Benchmark corpora, built in memory as packed batches (bytes + offsets). */
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { PackedBatch } from '../src/index.js';
import { packBytes, randomBytes, randomInt, randomText, rng } from '../test/helpers/random.js';

export interface Corpus {
  name: string;
  batch: PackedBatch;
}

/** Splits bytes on \n into a packed batch without creating strings. */
export function splitLines(bytes: Uint8Array): PackedBatch {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const offsets: number[] = [0];
  for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, i + 1)) offsets.push(i + 1);
  if (offsets[offsets.length - 1] !== bytes.length) offsets.push(bytes.length);
  return { bytes, offsets: Uint32Array.from(offsets) };
}

export function realTextAndCode(): Corpus {
  const require = createRequire(import.meta.url);
  const tsLib = dirname(require.resolve('typescript'));
  const files = readdirSync(tsLib)
    .filter((f) => f.endsWith('.d.ts') || f === 'typescript.js' || f === 'tsc.js')
    .map((f) => join(tsLib, f));
  const bytes = new Uint8Array(Buffer.concat(files.map((f) => readFileSync(f))));
  return { name: 'real text+code (TypeScript lib, lines)', batch: splitLines(bytes) };
}

export function shortStrings(n: number): Corpus {
  const r = rng(11);
  const parts: Uint8Array[] = [];
  for (let i = 0; i < n; i++) parts.push(Buffer.from(randomText(r, 6)));
  return { name: `${n} short strings`, batch: packBytes(parts) };
}

export function oneLongString(bytes: number): Corpus {
  const r = rng(12);
  const big = randomBytes(r, bytes);
  for (let i = 0; i < big.length; i += 1 + randomInt(r, 12)) big[i] = 0x20;
  return { name: `one ${Math.round(bytes / 2 ** 20)} MiB string`, batch: packBytes([big]) };
}

export function longAmongShort(longBytes: number, shortCount: number): Corpus {
  const r = rng(13);
  const parts: Uint8Array[] = [];
  for (let i = 0; i < shortCount; i++) {
    parts.push(Buffer.from(randomText(r, 6)));
    if (i === shortCount >> 1) parts.push(randomBytes(r, longBytes));
  }
  return { name: `one ${Math.round(longBytes / 2 ** 20)} MiB string among ${shortCount} short`, batch: packBytes(parts) };
}
