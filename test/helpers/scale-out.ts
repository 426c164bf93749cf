/** Shared by the scale-out tests: a corpus with ids, `moe-router` on PATH, and comparing routings by id. */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { CLI } from './cli.js';
import { randomText, rng } from './random.js';

/** jsonl records {"id", "text"}: unique ids in no particular order, texts from every script and class. */
export function corpusWithIds(records: number, seed: number): { lines: string[]; bytes: Buffer } {
  const r = rng(seed);
  const lines: string[] = [];
  for (let i = 0; i < records; i++) {
    const id = `doc-${Math.floor(r() * 0x7fffffff).toString(36)}-${i.toString(36)}`;
    lines.push(JSON.stringify({ id, text: randomText(r, 14) }));
  }
  return { lines, bytes: Buffer.from(lines.join('\n') + '\n') };
}

/**
 * A directory holding a `moe-router` command that runs the built CLI, and an environment with
 * it first on PATH: the recipes call `moe-router` as an installed package would be called.
 */
export function moeRouterOnPath(dir: string): NodeJS.ProcessEnv {
  const bin = join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  const shim = join(bin, 'moe-router');
  writeFileSync(shim, `#!/bin/sh\nexec '${process.execPath}' '${CLI}' "$@"\n`);
  chmodSync(shim, 0o755);
  return { ...process.env, PATH: `${bin}${delimiter}${process.env.PATH ?? ''}` };
}

const INDEX = /^\{"index":(\d+),/;

/** A jsonl routing line without its index ({"index":I, ...} -> the bytes after it), and the index. */
export function splitRouting(line: string): { index: number; rest: string } {
  const m = INDEX.exec(line);
  if (!m) throw new Error(`not a routing line: ${line.slice(0, 120)}`);
  return { index: Number(m[1]), rest: line.slice(m[0].length) };
}

/** id -> routing without index, from a single-machine run's output over the corpus lines. */
export function routingById(corpusLines: readonly string[], wholeOutput: string): Map<string, string> {
  const out = wholeOutput.split('\n');
  if (out[out.length - 1] === '') out.pop();
  if (out.length !== corpusLines.length) throw new Error(`${out.length} routings for ${corpusLines.length} records`);
  const byId = new Map<string, string>();
  corpusLines.forEach((line, i) => {
    const { index, rest } = splitRouting(out[i]);
    if (index !== i) throw new Error(`record ${i} has index ${index}`);
    byId.set((JSON.parse(line) as { id: string }).id, rest);
  });
  return byId;
}

/** "<input line>\t<routing>" lines (the pipe recipes' output) -> [input line, routing] (split at the last tab). */
export function zipped(text: string): [string, string][] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map((l) => {
    const tab = l.lastIndexOf('\t');
    if (tab < 0) throw new Error(`no tab in ${l.slice(0, 120)}`);
    return [l.slice(0, tab), l.slice(tab + 1)];
  });
}
