/**
 * End-to-end figures: the real `moe-router route` binary in a child process,
 * as a user runs it (file in, JSONL out), timed from spawn to exit, with the
 * child's own peak RSS from its --stats file; `wc -l` on the same file beside it.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface CliConfig {
  /** As shown in tables: "cpu --threads 2", "default", "gpu". */
  label: string;
  args: string[];
}

export interface CliRun {
  corpus: string;
  label: string;
  args: string[];
  /** What the route job reported (backend, adapter, why it was chosen). */
  backend: string;
  backendChoice: string;
  /** Timed runs (the median is reported). */
  runs: number;
  /** Median spawn-to-exit seconds (Node start-up included). */
  seconds: number;
  /** The job's own seconds from its --stats (start-up excluded). */
  jobSeconds: number;
  bytes: number;
  records: number;
  mbPerSecond: number;
  recordsPerSecond: number;
  /** Highest peak RSS of the child over the runs, workers included. */
  maxRssBytes: number;
  /** '/usr/bin/time': the child's own; 'stats': its --stats maxRssBytes, which includes the RSS of the benchmark process at spawn (an upper bound). */
  rssFrom: 'time' | 'stats' | 'none';
}

/** The built CLI next to this module (dist/bench -> dist/cli), or dist/ when run from the sources (tsx). */
export function defaultCliPath(): string {
  const sibling = fileURLToPath(new URL('../cli/main.js', import.meta.url));
  if (existsSync(sibling)) return sibling;
  return fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
}

interface Exit {
  code: number | null;
  stderr: string;
  seconds: number;
  /** The child's own peak RSS, measured by /usr/bin/time (null without it). */
  maxRssBytes: number | null;
}

/**
 * Linux keeps ru_maxrss across execve: a child forked from a process holding
 * 400 MB reports at least 400 MB, whatever it used (so does its --stats
 * maxRssBytes). /usr/bin/time is a small process, so the command it forks
 * reports its own peak; where it is missing the --stats figure is used and
 * the report says it is an upper bound.
 */
const TIME = '/usr/bin/time';
const RSS_TAG = 'moe-bench-maxrss-kib ';
const haveTime = existsSync(TIME);

function runChild(command: string, args: string[], measureRss = false): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const [cmd, argv] = measureRss && haveTime ? [TIME, ['-f', `${RSS_TAG}%M`, command, ...args]] : [command, args];
    const child = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => {
      if (stderr.length < 64 << 10) stderr += s;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = (performance.now() - t0) / 1000;
      const at = stderr.lastIndexOf(RSS_TAG);
      const kib = at >= 0 ? Number.parseInt(stderr.slice(at + RSS_TAG.length), 10) : NaN;
      // time prints "Command exited with non-zero status N" before its line: drop what it added.
      const own = at >= 0 ? stderr.slice(0, at).replace(/Command exited with non-zero status \d+\n$/, '') : stderr;
      resolve({ code, stderr: own, seconds, maxRssBytes: Number.isFinite(kib) ? kib * 1024 : null });
    });
  });
}

export class CliRunError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliRunError';
  }
}

interface StatsJson {
  backend: string;
  backendChoice?: string;
  seconds: number;
  bytes: number;
  recordsIn: number;
  maxRssBytes: number;
}

/** One `route` run; `out` is /dev/null for timing, a file for the exactness pass. */
export async function routeOnce(cli: string, input: { path: string; format: string; field?: string }, args: readonly string[], out: string, tmp: string): Promise<{ exit: Exit; stats: StatsJson }> {
  const statsPath = join(tmp, 'stats.json');
  const all = [cli, 'route', input.path, '--format', input.format, ...(input.field !== undefined ? ['--field', input.field] : []), '--out', out, '--stats', statsPath, '-q', ...args];
  const exit = await runChild(process.execPath, all, true);
  if (exit.code !== 0) {
    throw new CliRunError(`moe-router route ${args.join(' ')} on ${input.path} exited with ${exit.code}: ${exit.stderr.trim().split('\n').pop() ?? ''}`);
  }
  const stats = JSON.parse(await readFile(statsPath, 'utf8')) as StatsJson;
  await rm(statsPath, { force: true });
  return { exit, stats };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export async function timeCli(cli: string, input: { path: string; format: string; field?: string }, corpus: string, config: CliConfig, repeat: number, tmp: string): Promise<CliRun> {
  const walls: number[] = [];
  const jobs: number[] = [];
  let last: StatsJson | null = null;
  let rss = 0;
  for (let i = 0; i < repeat; i++) {
    const { exit, stats } = await routeOnce(cli, input, config.args, '/dev/null', tmp);
    walls.push(exit.seconds);
    jobs.push(stats.seconds);
    rss = Math.max(rss, exit.maxRssBytes ?? stats.maxRssBytes);
    last = stats;
  }
  const s = last as StatsJson;
  const seconds = median(walls);
  return {
    corpus,
    label: config.label,
    args: config.args,
    backend: s.backend,
    backendChoice: s.backendChoice ?? '',
    runs: repeat,
    seconds,
    jobSeconds: median(jobs),
    bytes: s.bytes,
    records: s.recordsIn,
    mbPerSecond: seconds > 0 ? s.bytes / 1e6 / seconds : 0,
    recordsPerSecond: seconds > 0 ? s.recordsIn / seconds : 0,
    maxRssBytes: rss,
    rssFrom: haveTime ? 'time' : 'stats',
  };
}

/** `wc -l FILE`: how fast this machine reads and scans the file (null where wc is missing). */
export async function timeWc(path: string, bytes: number, corpus: string, repeat: number): Promise<CliRun | null> {
  const walls: number[] = [];
  for (let i = 0; i < repeat; i++) {
    try {
      const exit = await runChild('wc', ['-l', path]);
      if (exit.code !== 0) return null;
      walls.push(exit.seconds);
    } catch {
      return null;
    }
  }
  const seconds = median(walls);
  return {
    corpus, label: 'wc -l', args: [], backend: 'wc', backendChoice: '', runs: repeat, seconds, jobSeconds: seconds, bytes, records: 0,
    mbPerSecond: seconds > 0 ? bytes / 1e6 / seconds : 0, recordsPerSecond: 0, maxRssBytes: 0, rssFrom: 'none',
  };
}

/** The CLI configurations: the default, the reference, the fast CPU on 1..N threads, and the GPU. */
export function cliConfigs(threads: readonly number[], gpu: boolean): CliConfig[] {
  return [
    { label: 'default (auto)', args: [] },
    { label: 'cpu-reference', args: ['--backend', 'cpu-reference'] },
    ...threads.map((t) => ({ label: `cpu --threads ${t}`, args: ['--backend', 'cpu', '--threads', String(t)] })),
    { label: 'default --include-text', args: ['--include-text'] },
    ...(gpu ? [{ label: 'gpu', args: ['--backend', 'gpu'] }] : []),
  ];
}
