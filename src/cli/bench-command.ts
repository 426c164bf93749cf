/**
 * `moe-router bench [FILE]`: the benchmark for users (src/bench/suite.ts):
 * exactness on every backend first, then MB/s, records/s, p50/p99 per batch,
 * where the GPU starts to win, peak RSS and the GPU stages, as a table,
 * JSON, Markdown and an HTML chart.
 */
import { open } from 'node:fs/promises';
import { AtomicFile } from '../sinks/atomic-file.js';
import type { InputFormat } from '../sources/record-reader.js';
import type { InProcessBackend } from '../bench/batch-runs.js';
import type { CorpusKind } from '../bench/corpora.js';
import { htmlReport } from '../bench/html-report.js';
import { formatReport } from '../bench/report.js';
import { defaultOptions, ExactnessError, runBench, type BenchOptions } from '../bench/suite.js';
import { CliError, EXIT, ioError } from './cli-errors.js';
import { BENCH_QUICK_ENV } from './options.js';


export interface BenchCommandOptions {
  quick?: boolean;
  json?: boolean;
  markdown?: boolean;
  html?: string;
  format?: InputFormat;
  field?: string;
  backends?: InProcessBackend[];
  threads?: number[];
  batchSizes?: number[];
  corpora?: CorpusKind[];
  time?: number;
  maxBatchBytes?: number;
  endToEnd?: boolean;
  repeat?: number;
  quiet?: boolean;
}

/** "1,10,1k,1M": counts with k/M suffixes (powers of ten, as batch sizes are read). */

export function benchOptions(file: string | undefined, o: BenchCommandOptions, progress: (line: string) => void): BenchOptions {
  const quick = Boolean(o.quick) || process.env[BENCH_QUICK_ENV] === '1';
  const d = defaultOptions(quick);
  const corpora = o.corpora ?? d.corpora;
  if (corpora.includes('file') && file === undefined && o.corpora !== undefined) throw new CliError('--corpora file needs a FILE');
  if (corpora.length === 0 || (corpora.length === 1 && corpora[0] === 'file' && file === undefined)) throw new CliError('nothing to benchmark: give a FILE or generated corpora (--corpora short,medium,long)');
  return {
    ...d,
    ...(file !== undefined ? { file } : {}),
    ...(o.format ? { format: o.format } : {}),
    ...(o.field !== undefined ? { field: o.field } : {}),
    corpora,
    backends: o.backends ?? d.backends,
    threads: o.threads ?? d.threads,
    batchSizes: [...new Set(o.batchSizes ?? d.batchSizes)].sort((a, b) => a - b),
    limits: o.time !== undefined ? { ...d.limits, budgetMs: o.time } : d.limits,
    maxBatchBytes: o.maxBatchBytes ?? d.maxBatchBytes,
    endToEnd: o.endToEnd ?? d.endToEnd,
    repeat: o.repeat ?? d.repeat,
    onProgress: o.quiet ? () => undefined : progress,
  };
}

export async function runBenchCommand(file: string | undefined, o: BenchCommandOptions): Promise<number> {
  const options = benchOptions(file, o, (line) => process.stderr.write(`bench: ${line}\n`));
  if (file !== undefined) {
    // "cannot read FILE: no such file or directory" (exit 2) before anything is generated or opened.
    await open(file, 'r').then((f) => f.close(), (err: unknown) => Promise.reject(ioError('read', file, err)));
  }
  let report;
  try {
    report = await runBench(options);
  } catch (err) {
    // Exit 1 and no figure at all: a speed measured on wrong results means nothing.
    if (err instanceof ExactnessError) {
      for (const c of err.checks.filter((x) => !x.identical)) process.stderr.write(`moe-router: ${c.run} on ${c.corpus}: ${c.difference ?? 'differs'}\n`);
      throw new CliError('the backends disagree, so no figure is printed (see above)', EXIT.BAD_RECORD);
    }
    throw err;
  }
  if (o.html !== undefined) {
    try {
      const f = await AtomicFile.open(o.html);
      await f.write(htmlReport(report));
      await f.commit();
    } catch (err) {
      throw ioError('write', o.html, err);
    }
  }
  if (o.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  else process.stdout.write(formatReport(report, o.markdown ? 'markdown' : 'text'));
  return EXIT.OK;
}
