/**
 * The benchmark: corpora -> exactness on every backend and CLI run -> figures.
 * Shared by `moe-router bench` (src/cli/bench-command.ts) and `npm run bench`
 * (bench/route.bench.ts, tinybench). Nothing is measured, and no figure
 * returned, unless every backend gave the reference's results on every record.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { SwitchedMoE } from '../router/switched-moe.js';
import type { InputFormat } from '../sources/record-reader.js';
import { gpuWins, measureBackend, type BatchPoint, type GpuWin, type InProcessBackend } from './batch-runs.js';
import { cliConfigs, defaultCliPath, routeOnce, timeCli, timeWc, type CliRun } from './cli-runs.js';
import { corpusBytes, corpusRecords, generateCorpus, loadFileCorpus, writeCorpusFile, DEFAULT_SIZES, QUICK_SIZES, type BenchCorpus, type CorpusKind, type GeneratedSizes } from './corpora.js';
import { compareCliOutput, compareRouted, routeWhole, type ExactnessCheck, type Routed } from './exactness.js';
import { loopSampler, type SampleLimits, type Sampler } from './sampler.js';

export interface BenchOptions {
  /** The user's corpus (routed like `route FILE`: lines, jsonl, csv or tsv). */
  file?: string;
  /** How reports name the file (default: its path). */
  fileName?: string;
  format?: InputFormat;
  field?: string;
  /** Which corpora to run: short, medium, long (generated) and file (the user's FILE). */
  corpora: readonly CorpusKind[];
  quick: boolean;
  backends: readonly InProcessBackend[];
  /** Thread counts for the CLI runs of the fast CPU backend. */
  threads: readonly number[];
  batchSizes: readonly number[];
  sizes: GeneratedSizes;
  limits: SampleLimits;
  maxBatchMs: number;
  maxBatchBytes: number;
  /** In-memory part of the user's file (the CLI runs route all of it). */
  sampleBytes: number;
  /** Run the CLI end to end (needs the built binary). */
  endToEnd: boolean;
  /** Timed CLI runs per configuration (the median is reported). */
  repeat: number;
  sampler: Sampler;
  cliPath: string;
  onProgress: (line: string) => void;
}

export const ALL_BATCH_SIZES: readonly number[] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000];

/** Threads 1, 2, 4, ... up to and including the available parallelism. */
export function defaultThreads(): number[] {
  const n = os.availableParallelism();
  const out: number[] = [];
  for (let t = 1; t < n; t *= 2) out.push(t);
  out.push(n);
  return out;
}

export function defaultOptions(quick: boolean): BenchOptions {
  return {
    corpora: ['short', 'medium', 'long', 'file'],
    quick,
    backends: ['cpu-reference', 'cpu', 'gpu'],
    threads: defaultThreads(),
    batchSizes: ALL_BATCH_SIZES,
    sizes: quick ? QUICK_SIZES : DEFAULT_SIZES,
    limits: quick ? { budgetMs: 100, minSamples: 2 } : { budgetMs: 1500, minSamples: 5 },
    maxBatchMs: quick ? 1_000 : 20_000,
    maxBatchBytes: quick ? 32 << 20 : 256 << 20,
    sampleBytes: quick ? 16 << 20 : 256 << 20,
    endToEnd: true,
    repeat: quick ? 1 : 3,
    sampler: loopSampler,
    cliPath: defaultCliPath(),
    onProgress: () => undefined,
  };
}

export interface MachineInfo {
  cpu: string;
  cores: number;
  availableParallelism: number;
  memoryGiB: number;
  platform: string;
  node: string;
  /** The GPU adapter routeBatch got, or why there is none. */
  gpu: string;
  gpuAvailable: boolean;
  /** 1-minute load average at the start and at the end: a loaded (shared) machine shows here. */
  loadAverage: { start: number; end: number };
}

export interface CorpusInfo {
  name: string;
  kind: CorpusKind;
  records: number;
  bytes: number;
  meanRecordBytes: number;
}

export interface BenchReport {
  version: 1;
  date: string;
  quick: boolean;
  machine: MachineInfo;
  corpora: CorpusInfo[];
  exactness: { verified: boolean; checks: ExactnessCheck[] };
  batches: BatchPoint[];
  gpuWins: GpuWin[];
  endToEnd: CliRun[];
  /** Peak RSS of the benchmark process itself (it holds the corpora and the largest batch). */
  benchPeakRssBytes: number;
  seconds: number;
}

/**
 * Hidden test hook: flip one score of the named in-process backend's results
 * ('cpu', 'gpu') after routing, so a test can see the benchmark refuse to
 * print figures when a backend disagrees (no backend is wrong on purpose).
 */
export const FLIP_RESULT_ENV = 'MOE_ROUTER_TEST_BENCH_FLIP';

function flipForTesting(backend: InProcessBackend, r: Routed): Routed {
  if (process.env[FLIP_RESULT_ENV] !== backend || r.scoresQ16.length === 0) return r;
  r.scoresQ16[r.scoresQ16.length - 1] ^= 1;
  return r;
}

/** Some backend disagreed with the reference: no figure may be printed. */
export class ExactnessError extends Error {
  constructor(readonly checks: ExactnessCheck[]) {
    const bad = checks.filter((c) => !c.identical);
    super(`not exact: ${bad.map((c) => `${c.run} on ${c.corpus}: ${c.difference ?? 'differs'}`).join('; ')}`);
    this.name = 'ExactnessError';
  }
}

async function probeGpu(moe: SwitchedMoE): Promise<{ ok: boolean; detail: string }> {
  try {
    return { ok: true, detail: (await moe.routeBatch(['warm up'], { backend: 'gpu' })).adapter };
  } catch (err) {
    return { ok: false, detail: `unavailable: ${(err as Error).message}` };
  }
}

async function buildCorpora(o: BenchOptions, tmp: string): Promise<BenchCorpus[]> {
  const out: BenchCorpus[] = [];
  for (const kind of o.corpora) {
    if (kind === 'file') {
      if (o.file === undefined) continue;
      o.onProgress(`reading ${o.file}`);
      out.push(await loadFileCorpus(o.file, { ...(o.fileName !== undefined ? { name: o.fileName } : {}), ...(o.format ? { format: o.format } : {}), ...(o.field !== undefined ? { field: o.field } : {}), sampleBytes: o.sampleBytes }));
      continue;
    }
    o.onProgress(`generating the ${kind} corpus (${o.sizes[kind]} records)`);
    const c = generateCorpus(kind, o.sizes[kind]);
    if (o.endToEnd) {
      c.path = join(tmp, `${kind}.txt`);
      await writeCorpusFile(c.batch, c.path);
    }
    out.push(c);
  }
  return out;
}

export async function runBench(o: BenchOptions): Promise<BenchReport> {
  const started = performance.now();
  const loadStart = os.loadavg()[0];
  const tmp = await mkdtemp(join(os.tmpdir(), 'moe-bench-'));
  const moe = new SwitchedMoE({ backend: 'cpu-reference', onWarning: (m) => o.onProgress(`warning: ${m}`) });
  try {
    // The corpora first: a bad FILE is refused before a GPU is opened.
    const corpora = await buildCorpora(o, tmp);
    const gpu = o.backends.includes('gpu') ? await probeGpu(moe) : { ok: false, detail: 'not benchmarked' };
    if (o.backends.includes('gpu') && !gpu.ok) o.onProgress(`GPU ${gpu.detail}; benchmarking the CPU only`);
    const backends = o.backends.filter((b) => b !== 'gpu' || gpu.ok);

    // 1. Exactness: every backend, then every CLI configuration, against the reference.
    const checks: ExactnessCheck[] = [];
    const references = new Map<BenchCorpus, Routed>();
    for (const c of corpora) {
      o.onProgress(`checking exactness on ${c.name}`);
      const reference = await routeWhole(moe, 'cpu-reference', c);
      references.set(c, reference);
      for (const b of backends) {
        if (b === 'cpu-reference') continue;
        checks.push(compareRouted(reference, flipForTesting(b, await routeWhole(moe, b, c)), c.name, `routeBatch ${b}`));
      }
      if (o.endToEnd && c.path) {
        for (const config of cliConfigs(o.threads, gpu.ok)) {
          const out = join(tmp, 'out.jsonl');
          o.onProgress(`checking route ${config.label} on ${c.name}`);
          await routeOnce(o.cliPath, { path: c.path, format: c.format, ...(c.field !== undefined ? { field: c.field } : {}) }, config.args, out, tmp);
          checks.push(await compareCliOutput(out, reference, c.complete, c.name, `route ${config.label}`));
          await rm(out, { force: true });
        }
      }
    }
    if (checks.some((c) => !c.identical)) throw new ExactnessError(checks);

    // 2. In-process figures per backend, corpus and batch size.
    const batches: BatchPoint[] = [];
    for (const c of corpora) {
      for (const b of backends) batches.push(...(await measureBackend(moe, b, c, { ...o, onProgress: o.onProgress })));
    }

    // 3. End to end: the binary, and wc -l on the same file.
    const endToEnd: CliRun[] = [];
    if (o.endToEnd) {
      for (const c of corpora) {
        if (!c.path) continue;
        const input = { path: c.path, format: c.format, ...(c.field !== undefined ? { field: c.field } : {}) };
        for (const config of cliConfigs(o.threads, gpu.ok)) {
          o.onProgress(`route ${config.label} on ${c.name}`);
          endToEnd.push(await timeCli(o.cliPath, input, c.name, config, o.repeat, tmp));
        }
        const bytes = endToEnd[endToEnd.length - 1]?.bytes ?? corpusBytes(c);
        const wc = await timeWc(c.path, bytes, c.name, o.repeat);
        if (wc) endToEnd.push(wc);
      }
    }

    return {
      version: 1,
      date: new Date().toISOString(),
      quick: o.quick,
      machine: {
        cpu: os.cpus()[0]?.model ?? 'unknown CPU',
        cores: os.cpus().length,
        availableParallelism: os.availableParallelism(),
        memoryGiB: Math.round(os.totalmem() / 2 ** 30),
        platform: `${process.platform} ${process.arch}`,
        node: process.version,
        gpu: gpu.detail,
        gpuAvailable: gpu.ok,
        loadAverage: { start: loadStart, end: os.loadavg()[0] },
      },
      corpora: corpora.map((c) => ({ name: c.name, kind: c.kind, records: corpusRecords(c), bytes: corpusBytes(c), meanRecordBytes: corpusRecords(c) ? corpusBytes(c) / corpusRecords(c) : 0 })),
      exactness: { verified: true, checks },
      batches,
      gpuWins: gpu.ok && backends.includes('cpu') ? corpora.map((c) => gpuWins(batches, c.name, 'cpu')) : [],
      endToEnd,
      benchPeakRssBytes: process.resourceUsage().maxRSS * 1024,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await moe.dispose();
    await rm(tmp, { recursive: true, force: true });
  }
}
