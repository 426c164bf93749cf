/** `--shard I/N` and `merge-stats`: N parts of one file give exactly its records, no overlap, no gap. */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { jsonl, prng, runCli, tempDir } from './helpers/cli.js';

const tmp = tempDir('moe-shard-');
afterAll(() => tmp.cleanup());

function corpus(): Buffer {
  // records of very different lengths (so split points fall inside records), empty lines, CRLF, no final LF
  const rand = prng(7);
  const lines: string[] = [];
  for (let i = 0; i < 997; i++) {
    const len = rand() < 0.05 ? 3000 : Math.floor(rand() * 40);
    lines.push(`${i} ${'ab Cd;'.repeat(len / 6)}`.slice(0, len) + (rand() < 0.2 ? '\r' : ''));
  }
  lines[10] = '';
  lines[11] = '';
  return Buffer.from(lines.join('\n'));
}

describe('--shard I/N', () => {
  const file = tmp.path('corpus.txt');
  writeFileSync(file, corpus());

  it.each([1, 2, 3, 5, 8, 40])('the %i parts together are the whole file, with global indexes', async (n) => {
    const whole = await runCli(['route', file, '--backend', 'cpu', '-q', '--include-text']);
    expect(whole.code).toBe(0);
    const parts = await Promise.all(Array.from({ length: n }, (_, i) => runCli(['route', file, '--backend', 'cpu', '-q', '--include-text', '--shard', `${i}/${n}`, '--batch-bytes', '1K'])));
    for (const p of parts) expect(p.code).toBe(0);
    expect(Buffer.concat(parts.map((p) => p.stdout)).equals(whole.stdout)).toBe(true);
    expect(jsonl(whole.out)).toHaveLength(997);
  });

  it('jsonl and csv parts work too (csv parts after the first read the header)', async () => {
    const j = tmp.path('c.jsonl');
    const c = tmp.path('c.csv');
    const rows = Array.from({ length: 300 }, (_, i) => `Row ${i} ${'x'.repeat(i % 97)}`);
    writeFileSync(j, rows.map((t) => JSON.stringify({ id: t.length, text: t })).join('\n') + '\n');
    writeFileSync(c, 'id,text\n' + rows.map((t, i) => `${i},"${t}"`).join('\n') + '\n');
    for (const f of [j, c]) {
      const whole = await runCli(['route', f, '--backend', 'cpu', '-q']);
      const parts = await Promise.all([0, 1, 2, 3].map((i) => runCli(['route', f, '--backend', 'cpu', '-q', '--shard', `${i}/4`])));
      expect(Buffer.concat(parts.map((p) => p.stdout)).equals(whole.stdout)).toBe(true);
      expect(jsonl(whole.out)).toHaveLength(300);
    }
  });

  it('merge-stats sums the parts into the stats of the whole run and checks coverage', async () => {
    const n = 3;
    const stats = Array.from({ length: n }, (_, i) => tmp.path(`part-${i}.json`));
    await Promise.all(stats.map((s, i) => runCli(['route', file, '--backend', 'cpu', '-q', '--shard', `${i}/${n}`, '--stats', s])));
    await runCli(['route', file, '--backend', 'cpu', '-q', '--stats', tmp.path('whole.json')]);
    const whole = JSON.parse(readFileSync(tmp.path('whole.json'), 'utf8'));
    const m = await runCli(['merge-stats', ...stats, '-q']);
    expect(m.code).toBe(0);
    const merged = JSON.parse(m.out);
    for (const k of ['recordsIn', 'recordsOut', 'routed', 'errors', 'bytes', 'perExpert', 'shares', 'numExperts', 'boundaries']) {
      expect(merged[k]).toEqual(whole[k]);
    }
    expect(merged.merged).toBe(3);
    const shard1 = JSON.parse(readFileSync(stats[1], 'utf8'));
    expect(shard1.shard).toMatchObject({ index: 1, count: 3 });
    expect(shard1.shard.startByte).toBe(JSON.parse(readFileSync(stats[0], 'utf8')).shard.endByte);

    const missing = await runCli(['merge-stats', stats[0], stats[2]]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('part 1/3 is missing');
    const partial = await runCli(['merge-stats', stats[0], stats[2], '--allow-partial', '--out', tmp.path('merged.json')]);
    expect(partial.code).toBe(0);
    expect(JSON.parse(readFileSync(tmp.path('merged.json'), 'utf8')).merged).toBe(2);
    const notStats = await runCli(['merge-stats', file]);
    expect(notStats.code).toBe(2);
    expect(notStats.stderr.trim().split('\n')).toHaveLength(1);
  });
});
