/**
 * `moe-router bench` through the built binary on a tiny real file: the JSON
 * report's shape, exactness verified before any figure, the HTML chart (an
 * <svg>, the file name escaped), and the refusal (exit 1, no figure) when a
 * backend disagrees. No assertion on any timing.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, stderrLines, tempDir } from './helpers/cli.js';
import { gpuProbe } from './helpers/gpu.js';
import type { BenchReport } from '../src/bench/suite.js';

const tmp = tempDir('moe-bench-');
afterAll(() => tmp.cleanup());

// A name with markup in it: the page must show it as text.
const file = tmp.path('tiny <b>&corpus.txt');
const lines = [
  'What is 2+2?',
  'function quicksort(arr) { return arr.length < 2 ? arr : [...quicksort(arr.filter(x => x < arr[0])), arr[0]]; }',
  '東京の天気は晴れです 🙂',
  '',
  'SELECT id, name FROM users WHERE created_at > NOW() - INTERVAL 1 DAY;',
  ...Array.from({ length: 195 }, (_, i) => `line ${i}: ${'naïve word '.repeat(i % 17)}${i % 3 ? '{"k": [1, 2]}' : ''}`),
];
writeFileSync(file, lines.join('\n') + '\n');

describe('moe-router bench', () => {
  it('checks exactness first, then reports every backend, batch size and route run as JSON and an HTML chart', async () => {
    const html = tmp.path('bench.html');
    const r = await runCli(['bench', file, '--quick', '--json', '--corpora', 'file', '--batch-sizes', '1,100', '--threads', '1,2', '--repeat', '1', '--html', html, '-q']);
    expect(stderrLines(r.stderr)).toEqual([]);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out) as BenchReport;
    expect(report.version).toBe(1);
    expect(report.quick).toBe(true);
    expect(report.machine.cores).toBeGreaterThan(0);
    expect(report.machine.gpuAvailable).toBe(gpuProbe.available);
    expect(report.corpora).toEqual([{ name: `file: ${file}`, kind: 'file', records: lines.length, bytes: Buffer.byteLength(lines.join('')), meanRecordBytes: expect.any(Number) as number }]);

    const backends = gpuProbe.available ? ['cpu-reference', 'cpu', 'gpu'] : ['cpu-reference', 'cpu'];
    // Exactness: every other backend and every route configuration against the reference, all identical.
    expect(report.exactness.verified).toBe(true);
    const runs = report.exactness.checks.map((c) => c.run);
    expect(runs).toEqual([
      ...backends.slice(1).map((b) => `routeBatch ${b}`),
      'route default (auto)',
      'route cpu-reference',
      'route cpu --threads 1',
      'route cpu --threads 2',
      'route default --include-text',
      ...(gpuProbe.available ? ['route gpu'] : []),
    ]);
    for (const c of report.exactness.checks) expect(c).toMatchObject({ identical: true, records: lines.length });

    // One point per backend and batch size, with the figures the issue asks for.
    expect(report.batches.map((p) => `${p.backend}/${p.batchRecords}`)).toEqual(backends.flatMap((b) => [`${b}/1`, `${b}/100`]));
    for (const p of report.batches) {
      expect(p.skipped).toBeUndefined();
      expect(p.samples).toBeGreaterThanOrEqual(2);
      expect(p.mbPerSecond).toBeGreaterThan(0);
      expect(p.recordsPerSecond).toBeGreaterThan(0);
      expect(p.p99Ms).toBeGreaterThanOrEqual(p.p50Ms);
      expect(p.stages).toHaveProperty('computeMs');
      if (p.backend === 'gpu') expect(Object.keys(p.stages)).toEqual(expect.arrayContaining(['packMs', 'computeMs', 'uploadMs', 'waitMs']));
    }
    if (gpuProbe.available) expect(report.gpuWins).toEqual([{ corpus: `file: ${file}`, batchRecords: expect.toBeOneOf([null, 1, 100]) as number | null, versus: 'cpu' }]);

    // End to end: the binary per configuration (peak RSS of the child), then wc -l.
    const e2e = report.endToEnd.filter((e) => e.label !== 'wc -l');
    expect(e2e.map((e) => e.label)).toEqual(runs.filter((x) => x.startsWith('route ')).map((x) => x.slice('route '.length)));
    for (const e of e2e) {
      expect(e.records).toBe(lines.length);
      expect(e.maxRssBytes).toBeGreaterThan(1 << 20);
      expect(['time', 'stats']).toContain(e.rssFrom);
      expect(e.mbPerSecond).toBeGreaterThan(0);
    }
    expect(e2e.find((e) => e.label === 'cpu --threads 2')?.backendChoice).toMatch(/2 worker threads/);
    expect(report.benchPeakRssBytes).toBeGreaterThan(1 << 20);

    const page = readFileSync(html, 'utf8');
    expect(page).toMatch(/^<!DOCTYPE html>/);
    expect(page).toContain('<svg');
    expect(page).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    expect(page).toContain('tiny &lt;b&gt;&amp;corpus.txt');
    expect(page).not.toContain('<b>');
  }, 120_000);

  it('prints the table, and Markdown for the README', async () => {
    const r = await runCli(['bench', file, '--quick', '--markdown', '--corpora', 'file', '--batch-sizes', '10', '--backends', 'cpu-reference,cpu', '--no-end-to-end', '-q']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/exactness: verified before measuring: 1 comparisons/);
    expect(r.out).toMatch(/^\| corpus \| MB \| records \| cpu-reference MB\/s \(batch\) \| cpu MB\/s \(batch\) \| GPU wins from batch \|$/m);
    expect(r.out).toMatch(/^\| corpus \| batch \| cpu-reference MB\/s \(p50 \/ p99 ms\) \| cpu MB\/s \(p50 \/ p99 ms\) \|$/m);
    expect(r.out).toMatch(/^\| file \| 10 \| [\d.,]+ \([\d.,]+ \/ [\d.,]+\) \| [\d.,]+ \([\d.,]+ \/ [\d.,]+\) \|$/m);
  }, 60_000);

  it('prints no figure and exits 1 when a backend disagrees with the reference', async () => {
    const r = await runCli(['bench', file, '--quick', '--corpora', 'file', '--batch-sizes', '10', '--backends', 'cpu-reference,cpu', '--no-end-to-end', '-q'], {
      env: { MOE_ROUTER_TEST_BENCH_FLIP: 'cpu' },
    });
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.stderr).toContain(`routeBatch cpu on file: ${file}: record ${lines.length - 1}: `);
    expect(r.stderr).toMatch(/moe-router: error: the backends disagree, so no figure is printed/);
  }, 60_000);

  it('refuses a corpus with a bad record, and asks for something to run', async () => {
    const bad = tmp.path('bad.jsonl');
    writeFileSync(bad, '{"text": "ok"}\n{"text": 1}\n');
    const r = await runCli(['bench', bad, '--quick', '--corpora', 'file', '-q']);
    expect(r.code).toBe(2);
    expect(stderrLines(r.stderr)).toEqual([`moe-router: error: ${bad}:2: field "text" is a number, not a string (the benchmark needs a file without bad records)`]);
    const missing = await runCli(['bench', tmp.path('missing.txt'), '-q']);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toBe(`moe-router: error: cannot read ${tmp.path('missing.txt')}: no such file or directory`);
    const none = await runCli(['bench', '--corpora', 'file']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('--corpora file needs a FILE');
  }, 60_000);
});
