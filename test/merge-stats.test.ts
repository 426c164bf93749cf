/**
 * `merge-stats` adds only what belongs together: the parts of one --shard run
 * of one input under one router config, each part once. Mismatches and
 * duplicates are refused (exit 2, one line naming both files) even with
 * --allow-partial, which only allows gaps.
 */
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from './helpers/cli.js';

const tmp = tempDir('moe-merge-');
afterAll(() => tmp.cleanup());

const corpus = Array.from({ length: 400 }, (_, i) => `line ${i} ${'Ab;9 '.repeat(i % 13)}`).join('\n') + '\n';
const file = tmp.path('corpus.txt');

async function part(input: string, i: number, n: number, name: string, extra: string[] = []): Promise<string> {
  const stats = tmp.path(name);
  const r = await runCli(['route', input, '--backend', 'cpu', '-q', '--shard', `${i}/${n}`, '--stats', stats, '--out', tmp.path(`${name}.jsonl`), ...extra]);
  expect(r.code, r.stderr).toBe(0);
  return stats;
}

function oneLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  return lines[0];
}

async function refused(files: string[], ...expected: string[]): Promise<void> {
  const runs = await Promise.all([[], ['--allow-partial']].map((extra) => runCli(['merge-stats', ...files, '-q', ...extra])));
  for (const r of runs) {
    expect(r.code, r.stderr).toBe(2);
    expect(r.out).toBe('');
    const line = oneLine(r.stderr);
    for (const e of expected) expect(line).toContain(e);
  }
}

beforeAll(() => writeFileSync(file, corpus));

describe('merge-stats: what a stats file records', () => {
  it('the router config (with a fingerprint) and the identity of the input', async () => {
    const s = JSON.parse(readFileSync(await part(file, 0, 2, 'rec-0.json'), 'utf8'));
    expect(s.version).toBe(2);
    expect(s.router).toMatchObject({ numExperts: 3, boundariesQ16: [Math.round(0.198 * 65536), Math.round(0.396 * 65536)] });
    expect(s.router.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(Object.keys(s.router.weights)).toContain('tokens');
    expect(s.inputFingerprint).toMatchObject({ path: file, size: Buffer.byteLength(corpus) });
    expect(s.inputFingerprint.sample).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(typeof s.inputFingerprint.mtimeMs).toBe('number');
  });
});

describe('merge-stats refuses parts that do not belong together', () => {
  it('a 3-expert part and a 5-expert part', async () => {
    const a = await part(file, 0, 2, 'e3-0.json');
    const b = await part(file, 1, 2, 'e5-1.json', ['--experts', '5']);
    await refused([a, b], a, b, 'numExperts 3 vs 5');
  });

  it('parts routed with other boundaries, weights or caps', async () => {
    const a = await part(file, 0, 2, 'cfg-0.json');
    const t = await part(file, 1, 2, 'cfg-t.json', ['--threshold', '0.5']);
    await refused([a, t], a, t, 'boundaries');
    const wConfig = tmp.path('w.json');
    writeFileSync(wConfig, JSON.stringify({ weights: { tokens: 9 } }));
    const w = await part(file, 1, 2, 'cfg-w.json', ['--config', wConfig]);
    await refused([a, w], a, w, 'different router configs: weight of "');
    const cConfig = tmp.path('c.json');
    writeFileSync(cConfig, JSON.stringify({ caps: { length: 17 } }));
    const c = await part(file, 1, 2, 'cfg-c.json', ['--config', cConfig]);
    await refused([a, c], a, c, 'cap of "length" 256 vs 17'.replace('256', String(JSON.parse(readFileSync(a, 'utf8')).router.caps.length)));
  });

  it('parts of different inputs: another size, or the same size with other bytes', async () => {
    const other = tmp.path('other.txt');
    writeFileSync(other, corpus + 'one more line\n');
    const same = tmp.path('same-size.txt');
    writeFileSync(same, corpus.slice(0, -2) + 'X\n');
    const a = await part(file, 0, 2, 'in-0.json');
    const b = await part(other, 1, 2, 'in-other.json');
    await refused([a, b], a, b, 'different inputs');
    const c = await part(same, 1, 2, 'in-same.json');
    await refused([a, c], a, c, 'different inputs', 'content');
  });

  it('parts of one file read as different formats', async () => {
    const a = await part(file, 0, 2, 'fmt-0.json');
    const b = await part(file, 1, 2, 'fmt-1.json', ['--format', 'csv', '--field', 'line 0 ', '--on-error', 'skip']);
    await refused([a, b], a, b, 'different formats: lines vs csv');
  });

  it('the same stats file twice, under the same or another name', async () => {
    const a = await part(file, 0, 2, 'dup-0.json');
    const b = await part(file, 1, 2, 'dup-1.json');
    await refused([a, b, a], a, 'twice');
    await refused([a, b, `${tmp.dir}/./dup-0.json`], 'twice');
    const link = tmp.path('link-to-dup-0.json');
    symlinkSync(a, link);
    await refused([link, b, a], link, a, 'twice');
  });

  it('the same part twice (a copy of a stats file), and a whole run twice', async () => {
    const a = await part(file, 0, 2, 'twin-0.json');
    const b = await part(file, 1, 2, 'twin-1.json');
    mkdirSync(tmp.path('elsewhere'), { recursive: true });
    const copy = tmp.path('elsewhere/twin-0.json');
    copyFileSync(a, copy);
    await refused([a, b, copy], a, copy, 'part 0/2');
    const whole = tmp.path('whole.json');
    expect((await runCli(['route', file, '--backend', 'cpu', '-q', '--stats', whole, '--out', tmp.path('whole.jsonl')])).code).toBe(0);
    const whole2 = tmp.path('whole-2.json');
    copyFileSync(whole, whole2);
    await refused([whole, whole2], whole, whole2, 'twice');
  });

  it('a stats file whose router or input identity is malformed (hand-edited): exit 2, not a crash', async () => {
    const a = await part(file, 0, 2, 'bad-0.json');
    const b = await part(file, 1, 2, 'bad-1.json');
    const s = JSON.parse(readFileSync(b, 'utf8'));
    for (const [key, value] of [['router', {}], ['router', { ...s.router, boundariesQ16: 'x' }], ['inputFingerprint', { path: 3 }], ['shard', { index: 'one' }]] as const) {
      const edited = tmp.path('edited.json');
      writeFileSync(edited, JSON.stringify({ ...s, [key]: value }));
      await refused([a, edited], edited, key);
    }
  });

  it('runs of stdin have no input identity: never merged with each other', async () => {
    const s1 = tmp.path('stdin-1.json');
    const s2 = tmp.path('stdin-2.json');
    for (const s of [s1, s2]) expect((await runCli(['route', '-', '--backend', 'cpu', '-q', '--stats', s], { input: corpus })).code).toBe(0);
    expect(JSON.parse(readFileSync(s1, 'utf8')).inputFingerprint).toEqual({ path: 'stdin', size: null, mtimeMs: null, sample: null });
    await refused([s1, s2], s1, s2, 'stdin is not a regular file');
  });

  it('--out naming one of the stats files it reads (by any name): refused, the part is kept', async () => {
    const a = await part(file, 0, 2, 'keep-0.json');
    const b = await part(file, 1, 2, 'keep-1.json');
    const before = readFileSync(b, 'utf8');
    const link = tmp.path('keep-link.json');
    symlinkSync(b, link);
    for (const out of [b, link]) {
      const r = await runCli(['merge-stats', a, b, '-q', '--out', out]);
      expect(r.code).toBe(2);
      expect(oneLine(r.stderr)).toContain(`--out ${out} is ${b}, one of the stats files to merge`);
      expect(readFileSync(b, 'utf8')).toBe(before);
    }
  });

  it('a stats file without a router config or input identity (an older moe-router)', async () => {
    const a = await part(file, 0, 2, 'old-0.json');
    const old = JSON.parse(readFileSync(a, 'utf8'));
    delete old.router;
    delete old.inputFingerprint;
    old.version = 1;
    const oldFile = tmp.path('old.json');
    writeFileSync(oldFile, JSON.stringify(old));
    await refused([a, oldFile], oldFile);
  });
});

describe('merge-stats accepts what belongs together', () => {
  it('a copy of the input under another path and mtime is the same input; --allow-partial allows a gap only', async () => {
    const copy = tmp.path('copy/corpus.txt');
    mkdirSync(tmp.path('copy'), { recursive: true });
    writeFileSync(copy, corpus);
    const a = await part(file, 0, 3, 'ok-0.json');
    const b = await part(copy, 1, 3, 'ok-1.json');
    const c = await part(file, 2, 3, 'ok-2.json');
    const m = await runCli(['merge-stats', a, b, c, '-q']);
    expect(m.code, m.stderr).toBe(0);
    const merged = JSON.parse(m.out);
    expect(merged.recordsIn).toBe(400);
    expect(merged.router.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(merged.router).toEqual(JSON.parse(readFileSync(a, 'utf8')).router);
    expect(merged.inputFingerprint.size).toBe(Buffer.byteLength(corpus));
    const gap = await runCli(['merge-stats', a, c, '-q']);
    expect(gap.code).toBe(2);
    expect(oneLine(gap.stderr)).toContain('part 1/3 is missing');
    const partial = await runCli(['merge-stats', a, c, '-q', '--allow-partial']);
    expect(partial.code, partial.stderr).toBe(0);
    expect(JSON.parse(partial.out).merged).toBe(2);
    expect(JSON.parse(partial.out).missingParts).toEqual(['part 1/3 is missing']);
    expect(merged.missingParts).toBeUndefined();
    const loud = await runCli(['merge-stats', a, c, '--allow-partial']);
    expect(loud.stderr).toContain('PARTIAL   part 1/3 is missing');
  });
});
