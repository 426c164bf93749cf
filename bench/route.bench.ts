/**
 * `npm run bench`: the benchmark suite of `moe-router bench` (src/bench/suite.ts)
 * timed by tinybench, over the generated corpora plus a corpus of real short
 * lines (bench/real-corpus.ts). Exactness is checked on every backend and CLI
 * run before any figure is printed; a difference exits 1.
 *
 * Environment:
 *   BENCH_QUICK=1     small corpora, short budgets (about a minute)
 *   BENCH_REAL_MB=N   size of the real-lines corpus (default 32, quick 4)
 *   BENCH_OUT=DIR     also write DIR/bench.json, bench.html, bench.md (every table) and readme.md
 *                     (the README's part: bench/update-readme.ts DIR/readme.md splices it in)
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bench } from 'tinybench';
import { htmlReport } from '../src/bench/html-report.js';
import { formatReport, readmeReport } from '../src/bench/report.js';
import type { Sampler } from '../src/bench/sampler.js';
import { defaultOptions, ExactnessError, runBench } from '../src/bench/suite.js';
import { writeRealCorpus } from './real-corpus.js';

/** One tinybench Bench per point: its latency statistics are the per-batch p50/p99. */
const tinybenchSampler: Sampler = async (name, task, limits) => {
  const bench = new Bench({ time: limits.budgetMs, iterations: limits.minSamples, warmup: false, throws: true });
  bench.add(name, task);
  await bench.run();
  const r = bench.getTask(name)?.result;
  if (!r || !('latency' in r)) throw new Error(`tinybench gave no result for ${name}`);
  const l = r.latency;
  return { samples: l.samplesCount, meanMs: l.mean, p50Ms: l.p50, p99Ms: l.p99, totalMs: l.mean * l.samplesCount };
};

const quick = process.env.BENCH_QUICK === '1';
const realMb = Number(process.env.BENCH_REAL_MB ?? (quick ? 4 : 32));
const tmp = mkdtempSync(join(tmpdir(), 'moe-real-'));
try {
  const file = join(tmp, 'real-lines.txt');
  const written = writeRealCorpus(file, Math.round(realMb * 1e6));
  process.stderr.write(`bench: real short lines: ${written.lines} lines, ${(written.bytes / 1e6).toFixed(1)} MB\n`);
  const report = await runBench({
    ...defaultOptions(quick),
    file,
    fileName: `${(written.bytes / 1e6).toFixed(0)} MB of real short lines (bench/real-corpus.ts)`,
    sampler: tinybenchSampler,
    onProgress: (line) => process.stderr.write(`bench: ${line}\n`),
  });
  process.stdout.write(formatReport(report, 'text'));
  const out = process.env.BENCH_OUT;
  if (out) {
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'bench.json'), JSON.stringify(report, null, 2) + '\n');
    writeFileSync(join(out, 'bench.html'), htmlReport(report));
    writeFileSync(join(out, 'bench.md'), formatReport(report, 'markdown'));
    writeFileSync(join(out, 'readme.md'), readmeReport(report));
    process.stderr.write(`bench: wrote ${out}/bench.json, bench.html, bench.md, readme.md (node --import tsx bench/update-readme.ts ${out}/readme.md puts it in the README)\n`);
  }
} catch (err) {
  if (!(err instanceof ExactnessError)) throw err;
  for (const c of err.checks.filter((x) => !x.identical)) process.stderr.write(`bench: NOT EXACT: ${c.run} on ${c.corpus}: ${c.difference ?? 'differs'}\n`);
  process.stderr.write('bench: the backends disagree, so no figure is printed\n');
  process.exitCode = 1;
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
