/**
 * A corpus of real short lines, built offline from text and code already in
 * node_modules: TypeScript's lib .d.ts files, typescript.js and tsc.js (code
 * and doc comments), and the packages' README.md files (prose). One record per
 * line, the line pool shuffled with a fixed seed and repeated to the size
 * asked for, so every run and machine gets the same file.
 *
 *   node --import tsx bench/real-corpus.ts OUT.txt SIZE_MB
 */
import { openSync, readdirSync, readFileSync, writeSync, closeSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { seeded } from '../src/bench/corpora.js';

function sources(): string[] {
  const require = createRequire(import.meta.url);
  const tsLib = dirname(require.resolve('typescript'));
  const files = readdirSync(tsLib)
    .filter((f) => f.endsWith('.d.ts') || f === 'typescript.js' || f === 'tsc.js')
    .map((f) => join(tsLib, f));
  const modules = dirname(dirname(tsLib));
  for (const name of readdirSync(modules)) {
    const readme = join(modules, name, 'README.md');
    if (existsSync(readme)) files.push(readme);
  }
  return files.sort();
}

/** The distinct source lines, without CR, as UTF-8. */
export function linePool(): Buffer[] {
  const lines: Buffer[] = [];
  for (const f of sources()) {
    for (const l of readFileSync(f, 'utf8').split('\n')) lines.push(Buffer.from(l.endsWith('\r') ? l.slice(0, -1) : l, 'utf8'));
  }
  return lines;
}

/** Writes about `bytes` bytes of shuffled real lines to `path`; returns bytes and lines written. */
export function writeRealCorpus(path: string, bytes: number): { bytes: number; lines: number } {
  const pool = linePool();
  const r = seeded(7);
  const fd = openSync(path, 'w');
  const buf = Buffer.allocUnsafe(8 << 20);
  let used = 0;
  let written = 0;
  let lines = 0;
  try {
    while (written + used < bytes) {
      // a fresh permutation per pass: the same lines, never in the same order twice
      for (let i = pool.length - 1; i > 0; i--) {
        const j = Math.floor(r() * (i + 1));
        [pool[i], pool[j]] = [pool[j], pool[i]];
      }
      for (const l of pool) {
        if (written + used >= bytes) break;
        if (used + l.length + 1 > buf.length) {
          writeSync(fd, buf, 0, used);
          written += used;
          used = 0;
        }
        l.copy(buf, used);
        used += l.length;
        buf[used++] = 10;
        lines++;
      }
    }
    writeSync(fd, buf, 0, used);
    written += used;
  } finally {
    closeSync(fd);
  }
  return { bytes: written, lines };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const [out, mb] = process.argv.slice(2);
  if (!out || !(Number(mb) > 0)) {
    process.stderr.write('usage: node --import tsx bench/real-corpus.ts OUT.txt SIZE_MB\n');
    process.exit(2);
  }
  const r = writeRealCorpus(out, Math.round(Number(mb) * 1e6));
  process.stdout.write(`${out}: ${r.bytes} bytes, ${r.lines} lines, ${(r.bytes / r.lines).toFixed(1)} B per line\n`);
}
