/** Parquet input, output and shards, through the real binary on files built with hyparquet-writer. */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { jsonl, ROOT, runCli, tempDir } from './helpers/cli.js';
import { randomText, rng } from './helpers/random.js';
import { readParquetRows, writeJsonl, writeNestedParquet, writeTextParquet } from './helpers/columnar.js';

const tmp = tempDir('moe-parquet-');
afterAll(() => tmp.cleanup());

const r = rng(41);
const TEXTS: string[] = Array.from({ length: 300 }, (_, i) => (i % 50 === 7 ? 'x'.repeat(5000) + randomText(r, 10) : randomText(r, 40)));
TEXTS[3] = '';
TEXTS[4] = 'hello world';
const pq = tmp.path('corpus.parquet');
const jl = tmp.path('corpus.jsonl');
writeTextParquet(pq, TEXTS, 37); // 9 row groups, the last one short
writeJsonl(jl, TEXTS);

const CPU = ['--backend', 'cpu', '-q'];

describe('--format parquet', () => {
  it('routes a Parquet column exactly as the same texts in JSONL (experts and scores), index = row number', async () => {
    const a = await runCli(['route', pq, '--format', 'parquet', '--field', 'text', ...CPU, '--batch-records', '16']);
    const b = await runCli(['route', jl, ...CPU]);
    expect(a.stderr).toBe('');
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    expect(a.out).toBe(b.out);
    const recs = jsonl(a.out);
    expect(recs).toHaveLength(TEXTS.length);
    expect(recs.map((x) => x.index)).toEqual(TEXTS.map((_, i) => i));
    // pinned: the default router's values for "hello world" and for the empty string
    expect(recs[4]).toEqual({ index: 4, expert: 1, complexity: 0.2463836669921875, confidence: 0.488739013671875 });
    expect(recs[3]).toEqual({ index: 3, expert: 0, complexity: 0, confidence: 1 });
  });

  it('is recognised by its first bytes without --format, whatever the name', async () => {
    const noExt = tmp.path('corpus-data');
    writeTextParquet(noExt, TEXTS.slice(0, 20), 8);
    const a = await runCli(['route', noExt, ...CPU]);
    expect(a.code).toBe(0);
    expect(jsonl(a.out)).toHaveLength(20);
    const asJsonl = await runCli(['route', pq, '--format', 'jsonl', ...CPU]);
    expect(asJsonl.code).toBe(2);
    expect(asJsonl.stderr).toContain('is a Parquet file, not jsonl: use --format parquet --field COLUMN');
    const notPq = await runCli(['route', jl, '--format', 'parquet', ...CPU]);
    expect(notPq.code).toBe(2);
    expect(notPq.stderr).toContain('is not a Parquet file');
    const misnamed = tmp.path('text.parquet');
    writeFileSync(misnamed, 'just text\n');
    const m = await runCli(['route', misnamed, ...CPU]);
    expect(m.code).toBe(2);
    expect(m.stderr).toContain("text.parquet is named like a Parquet file but its first bytes say text; give --format to read it as text");
    expect((await runCli(['route', misnamed, '--format', 'lines', ...CPU])).code).toBe(0);
  });

  it('a nested column a.b; a null (or a null parent) is an error record, never an empty string routed', async () => {
    const f = tmp.path('nested.parquet');
    writeNestedParquet(
      f,
      [
        { id: 1, meta: { lang: 'en', body: 'hello world' }, score: 0.5 },
        { id: 2, meta: null, score: 1 },
        { id: 3, meta: { lang: 'fr', body: null }, score: 2 },
        { id: 4, meta: { lang: 'de', body: '' }, score: 3 },
      ],
      3,
    );
    const fail = await runCli(['route', f, '--field', 'meta.body', '--backend', 'cpu']);
    expect(fail.code).toBe(1);
    expect(fail.stderr).toMatch(/moe-router: error: .*nested\.parquet:2: row 1: column "meta\.body" is null, not a string \(record 1; --on-error skip/);
    expect(jsonl(fail.out)).toHaveLength(1);
    const skip = await runCli(['route', f, '--field', 'meta.body', '--on-error', 'skip', ...CPU]);
    expect(skip.code).toBe(0);
    const recs = jsonl(skip.out);
    expect(recs.map((x) => x.index)).toEqual([0, 1, 2, 3]);
    expect(recs[0]).toMatchObject({ expert: 1, complexity: 0.2463836669921875 });
    expect(recs[1]).toEqual({ index: 1, error: 'line 2: row 1: column "meta.body" is null, not a string' });
    expect(recs[2].error).toContain('row 2');
    expect(recs[3]).toEqual({ index: 3, expert: 0, complexity: 0, confidence: 1 }); // a real empty string is routed
    const bad = await runCli(['route', f, '--field', 'meta.nope', ...CPU]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('no Parquet column "meta.nope" inside "meta" (columns: lang, body)');
    const notText = await runCli(['route', f, '--field', 'score', ...CPU]);
    expect(notText.code).toBe(2);
    expect(notText.stderr).toContain('Parquet column "score" is of type DOUBLE, not a string column');
  });

  it.each([3, 13])('--shard I/%i splits by row groups: the parts cover the file exactly once, and merge', async (n) => {
    const whole = await runCli(['route', pq, ...CPU]);
    const parts = await Promise.all(
      Array.from({ length: n }, (_, i) => runCli(['route', pq, ...CPU, '--shard', `${i}/${n}`, '--stats', tmp.path(`s${n}-${i}.json`)])),
    );
    for (const p of parts) expect(p.code).toBe(0);
    expect(parts.map((p) => p.out).join('')).toBe(whole.out);
    // each part holds whole row groups of 37 rows
    for (const p of parts) expect(jsonl(p.out).length % 37 === 0 || p.out.includes(`"index":${TEXTS.length - 1},`)).toBe(true);
    const merged = await runCli(['merge-stats', '-q', ...Array.from({ length: n }, (_, i) => tmp.path(`s${n}-${i}.json`))]);
    expect(merged.code).toBe(0);
    const stats = JSON.parse(merged.out) as { recordsIn: number; errors: number };
    expect(stats.recordsIn).toBe(TEXTS.length);
  });

  it('--output-format parquet: index, expert, complexity, confidence (+ text), equal to the JSONL output', async () => {
    const out = tmp.path('routed.parquet');
    const res = await runCli(['route', pq, ...CPU, '--output-format', 'parquet', '--include-text', '-o', out]);
    expect(res.code).toBe(0);
    const rows = await readParquetRows(out);
    const ref = jsonl((await runCli(['route', jl, ...CPU])).out);
    expect(rows.map(({ text, ...x }) => ({ ...x, index: Number(x.index) }))).toEqual(ref);
    expect(rows.map((x) => x.text)).toEqual(TEXTS); // the text unchanged (a leading BOM included)
    const toStdout = await runCli(['route', pq, ...CPU, '--output-format', 'parquet']);
    expect(toStdout.code).toBe(2);
    expect(toStdout.stderr).toContain('--output-format parquet writes a file: give --out FILE.parquet');
  });

  it('--output-format parquet with --on-error skip: error rows have null expert and an error', async () => {
    const f = tmp.path('withnull.parquet');
    writeTextParquet(f, ['a b c', null, 'hello world'], 2);
    const out = tmp.path('withnull-out.parquet');
    const res = await runCli(['route', f, ...CPU, '--on-error', 'skip', '--output-format', 'parquet', '-o', out]);
    expect(res.code).toBe(0);
    const rows = await readParquetRows(out);
    expect(rows).toHaveLength(3);
    expect(rows[1]).toEqual({ index: 1n, expert: null, complexity: null, confidence: null, error: 'line 2: row 1: column "text" is null, not a string' });
    expect(rows[2]).toMatchObject({ index: 2n, expert: 1, complexity: 0.2463836669921875, error: null });
  });

  it('--shards DIR with Parquet input writes Parquet shards: every row once, unchanged (all columns), in its expert', async () => {
    const f = tmp.path('rich.parquet');
    const rr = rng(5);
    const rows = Array.from({ length: 120 }, (_, i) => ({
      id: i,
      meta: i % 17 === 0 ? { lang: 'xx', body: null } : { lang: ['en', 'fr', 'de'][i % 3], body: randomText(rr, 25) },
      score: i / 8,
    }));
    writeNestedParquet(f, rows, 25);
    const dir = tmp.path('shards');
    const res = await runCli(['route', f, '--field', 'meta.body', ...CPU, '--on-error', 'skip', '--shards', dir, '--batch-records', '10']);
    expect(res.code).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['expert-0.parquet', 'expert-1.parquet', 'expert-2.parquet']);
    const routed = jsonl(res.out);
    const seen: Record<string, unknown>[] = [];
    for (let e = 0; e < 3; e++) {
      const got = await readParquetRows(tmp.path(`shards/expert-${e}.parquet`));
      const want = rows.filter((_, i) => routed[i].expert === e);
      expect(got).toEqual(want); // unchanged, in input order
      seen.push(...got);
    }
    // the null rows (error records) are in no shard; every other row is in exactly one
    expect(seen).toHaveLength(rows.filter((x) => x.meta.body !== null).length);
    // a run stopped by a bad record leaves no shard and no output file behind, not even a temporary one
    const failed = tmp.path('failed-shards');
    const stop = await runCli(['route', f, '--field', 'meta.body', ...CPU, '--shards', failed, '--output-format', 'parquet', '-o', tmp.path('failed.parquet')]);
    expect(stop.code).toBe(1);
    expect(readdirSync(failed)).toEqual([]);
    expect(readdirSync(tmp.dir).filter((n) => n.startsWith('failed.parquet'))).toEqual([]);
  });

  it('a damaged file is a one-line error naming it, exit 2, never a stack trace or garbage routed', async () => {
    const good = readFileSync(pq);
    const truncated = tmp.path('truncated.parquet');
    writeFileSync(truncated, good.subarray(0, good.length - 100));
    const a = await runCli(['route', truncated, ...CPU]);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/^moe-router: error: .*truncated\.parquet: not a readable Parquet file: .*\n$/);
    const damaged = tmp.path('damaged.parquet');
    const bad = Buffer.from(good);
    for (let i = 200; i < 2000; i++) bad[i] ^= 0x5a;
    writeFileSync(damaged, bad);
    const b = await runCli(['route', damaged, ...CPU]);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/^moe-router: error: .*damaged\.parquet: cannot read Parquet rows 0\.\.36: .*\(a damaged or unsupported file\)\n$/);
  });

  it("the README's sample corpus.parquet and corpus.jsonl.gz route as examples/corpus.jsonl", async () => {
    const ref = await runCli(['route', join(ROOT, 'examples', 'corpus.jsonl'), ...CPU, '--include-text']);
    expect(jsonl(ref.out)).toHaveLength(60);
    for (const f of ['corpus.parquet', 'corpus.jsonl.gz']) {
      const res = await runCli(['route', join(ROOT, 'examples', f), ...CPU, '--include-text']);
      expect(res.code).toBe(0);
      expect(res.out).toBe(ref.out);
    }
  });

  it('a missing optional package is a one-line message that says what to install', async () => {
    const res = await runCli(['route', pq, ...CPU], { env: { MOE_ROUTER_TEST_HIDE_MODULES: 'hyparquet' } });
    expect(res.code).toBe(2);
    expect(res.stderr).toBe('moe-router: error: reading Parquet (--format parquet) needs the optional package hyparquet, which is not installed: npm install hyparquet\n');
  });

  it('calibrate reads Parquet too', async () => {
    const a = await runCli(['calibrate', pq, '--target', '0.5,0.5', '--json', '--backend', 'cpu']);
    const b = await runCli(['calibrate', jl, '--target', '0.5,0.5', '--json', '--backend', 'cpu']);
    expect(a.code).toBe(0);
    const { input: ia, ...ra } = JSON.parse(a.out) as Record<string, unknown>;
    const { input: ib, ...rb } = JSON.parse(b.out) as Record<string, unknown>;
    expect([ia, ib]).toEqual([pq, jl]);
    expect(ra).toEqual(rb);
  });
});
