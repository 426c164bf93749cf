/**
 * Beyond one machine, on a real engine: a Dask LocalCluster (scheduler + worker processes, Debian's
 * python3-distributed) routes a 200 k record corpus with the README's script
 * (examples/scale-out/route_dask.py), per partition through pipes and as --shard tasks, with a
 * worker process killed in the middle of the shard run; and the README's Kubernetes Indexed Job
 * manifest, parsed and its pod command run for every index. Each is compared, by id and byte for
 * byte, with a single-machine `moe-router route` of the same corpus.
 *
 * In CI (CI=true) a missing engine fails the suite; elsewhere the suite is skipped with a message.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runCli, tempDir } from './helpers/cli.js';
import { corpusWithIds, moeRouterOnPath, routingById, splitRouting, zipped } from './helpers/scale-out.js';

/** Debian's interpreter: the one that sees the apt packages (a pyenv python3 on PATH may not). */
const PYTHON = '/usr/bin/python3';
const SCRIPT = join(ROOT, 'examples', 'scale-out', 'route_dask.py');
const MANIFEST = join(ROOT, 'examples', 'scale-out', 'k8s-indexed-job.yaml');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const RECORDS = 200_000;

function engineProblem(): string | null {
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  const r = spawnSync(PYTHON, ['-c', 'import dask, distributed, yaml'], { encoding: 'utf8' });
  return r.status === 0 ? null : `${PYTHON} cannot import dask, distributed and yaml: ${r.stderr.trim().split('\n').pop() ?? ''}`;
}

const problem = engineProblem();
const inCi = process.env.CI === 'true' || process.env.CI === '1';
if (problem && !inCi) {
  process.stderr.write(`\nSKIPPED test/scale-out.test.ts: ${problem}. Install Debian's python3-distributed, python3-dask and python3-yaml (.ci/run does).\n\n`);
}

describe('the distributed engine', () => {
  it('is installed (required in CI: .ci/run installs python3-distributed)', (ctx) => {
    if (problem && !inCi) ctx.skip();
    expect(problem).toBeNull();
  });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; whileRunning?: () => void }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    const timer = opts.whileRunning ? setInterval(opts.whileRunning, 3) : null;
    child.on('close', (code) => {
      if (timer) clearInterval(timer);
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}

/** The parent process id, from /proc (the comm field may hold spaces and parentheses). */
function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

interface DaskResult {
  mode: string;
  workers: Record<string, number>;
  partitions?: { file: string; records: number; worker: string }[];
  parts?: { part: number; pid: number; worker: string }[];
}

function lastJson(stdout: string): DaskResult {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]) as DaskResult;
}

describe.skipIf(problem !== null)('scale-out recipes on a real Dask cluster and as a Kubernetes Indexed Job', () => {
  const tmp = tempDir('moe-scale-');
  afterAll(() => tmp.cleanup());
  const corpus = corpusWithIds(RECORDS, 2026);
  const env = moeRouterOnPath(tmp.dir);
  let whole: Buffer;
  let wholeStats: Record<string, unknown>;
  let byId: Map<string, string>;

  beforeAll(async () => {
    writeFileSync(tmp.path('corpus.jsonl'), corpus.bytes);
    const r = await runCli(['route', 'corpus.jsonl', '--backend', 'cpu', '-q', '--stats', 'whole-stats.json'], { cwd: tmp.dir });
    expect(r.code, r.stderr).toBe(0);
    whole = r.stdout;
    wholeStats = JSON.parse(readFileSync(tmp.path('whole-stats.json'), 'utf8')) as Record<string, unknown>;
    byId = routingById(corpus.lines, r.out);
    expect(byId.size).toBe(RECORDS);
  });

  /** The README shows exactly the command the test runs. */
  function daskCommand(args: string[]): string[] {
    const shown = `python3 examples/scale-out/route_dask.py ${args.join(' ')}`;
    expect(README, `README shows: ${shown}`).toContain(shown);
    return [SCRIPT, ...args];
  }

  it('per-partition pipes: every record once, in order, routed as on one machine (compared by id, byte for byte)', async () => {
    const r = await run(PYTHON, daskCommand(['pipes', 'corpus.jsonl', 'pipes-out', '--partitions', '8', '--workers', '3']), { cwd: tmp.dir, env });
    expect(r.code, r.stderr).toBe(0);
    const result = lastJson(r.stdout);
    expect(Object.keys(result.workers)).toHaveLength(3);
    const files = readdirSync(tmp.path('pipes-out')).sort();
    expect(files).toEqual(result.partitions?.map((p) => p.file).sort());
    expect(files.length).toBeGreaterThanOrEqual(6); // the byte blocks of 8 parts, give or take rounding
    expect(new Set(result.partitions?.map((p) => p.worker)).size).toBeGreaterThan(1);

    const pairs: [string, string][] = [];
    for (const f of files) {
      const part = zipped(readFileSync(join(tmp.path('pipes-out'), f), 'utf8'));
      part.forEach(([, routing], i) => {
        if (splitRouting(routing).index !== i) throw new Error(`${f}: record ${i} has index ${splitRouting(routing).index} (not zipped with its own input)`);
      });
      pairs.push(...part);
    }
    // the partitions together are the corpus, record for record: none lost, none twice, order kept
    expect(pairs.length).toBe(RECORDS);
    expect(pairs.every(([line], i) => line === corpus.lines[i])).toBe(true);
    const seen = new Set<string>();
    for (const [line, routing] of pairs) {
      const id = (JSON.parse(line) as { id: string }).id;
      seen.add(id);
      const rest = splitRouting(routing).rest;
      if (rest !== byId.get(id)) expect(`${id} ${rest}`).toBe(`${id} ${byId.get(id)}`);
    }
    expect(seen.size).toBe(RECORDS);
  });

  it('--shard tasks with a worker process killed mid-part: Dask reruns the task, no part lost, none twice, the same bytes', async () => {
    const out = tmp.path('shards-out');
    mkdirSync(out);
    let killed: { part: number; routerPid: number; workerPid: number; tmpFile: string } | null = null;
    // The first part file that holds data proves a moe-router is in the middle of a part: its
    // parent is the Dask worker process running that task. Kill both, as a machine that dies does.
    const killWhenWriting = (): void => {
      if (killed) return;
      for (const name of readdirSync(out)) {
        const m = /^part-(\d+)\.jsonl\.tmp-(\d+)-/.exec(name);
        if (!m) continue;
        const size = statSync(join(out, name), { throwIfNoEntry: false })?.size ?? 0;
        if (size === 0) continue;
        const routerPid = Number(m[2]);
        let workerPid: number;
        try {
          workerPid = parentOf(routerPid);
        } catch {
          continue; // finished in between: try the next one
        }
        process.kill(workerPid, 'SIGKILL');
        process.kill(routerPid, 'SIGKILL');
        killed = { part: Number(m[1]), routerPid, workerPid, tmpFile: name };
        return;
      }
    };
    const r = await run(PYTHON, daskCommand(['shards', 'corpus.jsonl', 'shards-out', '--parts', '6', '--workers', '3']), { cwd: tmp.dir, env, whileRunning: killWhenWriting });
    expect(r.code, r.stderr).toBe(0);
    const result = lastJson(r.stdout);
    expect(killed, 'a worker was killed while a part was being written').not.toBeNull();
    const k = killed as unknown as { part: number; routerPid: number; workerPid: number; tmpFile: string };
    // it was a worker process of the cluster, and it died before its part was complete
    expect(Object.values(result.workers)).toContain(k.workerPid);
    expect(existsSync(`/proc/${k.workerPid}`)).toBe(false);
    expect(r.stderr, 'Dask saw its worker die').toContain('distributed.nanny - WARNING - Restarting worker');
    expect(existsSync(join(out, k.tmpFile)), 'the killed attempt left its temporary file, not a part').toBe(true);
    // the scheduler ran that part again, in another moe-router process
    const parts = result.parts ?? [];
    expect(parts.map((p) => p.part).sort()).toEqual([0, 1, 2, 3, 4, 5]);
    const rerun = parts.find((p) => p.part === k.part);
    expect(rerun?.pid).not.toBe(k.routerPid);

    // exactly the six parts and their stats; anything else is the killed attempt's temporary files
    const files = readdirSync(out);
    const finished = files.filter((f) => !f.includes('.tmp-')).sort();
    expect(finished).toEqual([...[0, 1, 2, 3, 4, 5].flatMap((i) => [`part-${i}.jsonl`, `stats-${i}.json`]), 'routed.jsonl', 'stats.json'].sort());
    for (const f of files.filter((f) => f.includes('.tmp-'))) expect([`part-${k.part}.jsonl`, `stats-${k.part}.json`]).toContain(f.slice(0, f.indexOf(`.tmp-${k.routerPid}-`)));

    // the parts in order are the single-machine output, byte for byte (global indexes)
    const concatenated = Buffer.concat([0, 1, 2, 3, 4, 5].map((i) => readFileSync(join(out, `part-${i}.jsonl`))));
    expect(concatenated.equals(whole)).toBe(true);
    expect(readFileSync(join(out, 'routed.jsonl')).equals(whole)).toBe(true);
    const merged = JSON.parse(readFileSync(join(out, 'stats.json'), 'utf8')) as Record<string, unknown>;
    for (const key of ['recordsIn', 'recordsOut', 'routed', 'errors', 'bytes', 'perExpert', 'shares', 'boundaries']) expect(merged[key], key).toEqual(wholeStats[key]);
    expect(merged.recordsIn).toBe(RECORDS);
    expect(merged.merged).toBe(6);
    expect(merged.complete).toBe(true);
  });

  it('the Kubernetes Indexed Job manifest: Indexed, N completions, and its pod command for every index gives the single-machine output', async () => {
    const yaml = readFileSync(MANIFEST, 'utf8');
    expect(README, 'README shows the manifest as it is').toContain(yaml);
    const parsed = spawnSync(PYTHON, ['-c', 'import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))'], { input: yaml, encoding: 'utf8' });
    expect(parsed.status, parsed.stderr).toBe(0);
    interface Container { command: string[]; args: string[]; env: { name: string; value: string }[] }
    const job = JSON.parse(parsed.stdout) as {
      apiVersion: string;
      kind: string;
      spec: { completionMode: string; completions: number; parallelism: number; template: { spec: { restartPolicy: string; containers: Container[] } } };
    };
    expect([job.apiVersion, job.kind, job.spec.completionMode]).toEqual(['batch/v1', 'Job', 'Indexed']);
    const n = job.spec.completions;
    expect(n).toBeGreaterThan(1);
    expect(job.spec.parallelism).toBeLessThanOrEqual(n);
    expect(job.spec.template.spec.restartPolicy).toBe('Never');
    const [container] = job.spec.template.spec.containers;
    expect(container.command).toEqual(['sh', '-c']);
    const script = container.args[0];
    expect(script).toContain(`--shard "$JOB_COMPLETION_INDEX/${n}"`);
    expect(script).toMatch(/--out "[^"]*\$JOB_COMPLETION_INDEX[^"]*"/);
    expect(script).toMatch(/--stats "[^"]*\$JOB_COMPLETION_INDEX[^"]*"/);

    // every pod, as Kubernetes starts it: the container's env, the index, the command; paths here
    const podEnv = Object.fromEntries(container.env.map((e) => [e.name, e.value]));
    expect(Object.keys(podEnv).sort()).toEqual(['CORPUS', 'OUT']);
    const here = { CORPUS: tmp.path('corpus.jsonl'), OUT: tmp.path('k8s-out') };
    for (let i = 0; i < n; i += 2) {
      const pods = [i, i + 1].filter((j) => j < n).map((j) => run('sh', ['-c', script], { cwd: tmp.dir, env: { ...env, ...here, JOB_COMPLETION_INDEX: String(j) } }));
      for (const p of await Promise.all(pods)) expect(p.code, p.stderr).toBe(0);
    }
    // then, once, the README's two commands after the job
    const after = [
      'moe-router merge-stats "$OUT"/stats-*.json --out "$OUT/stats.json" -q',
      `cat ${Array.from({ length: n }, (_, i) => `"$OUT/part-${i}.jsonl"`).join(' ')} > "$OUT/routed.jsonl"`,
    ];
    for (const line of after) expect(README, `README shows: ${line}`).toContain(line);
    const done = await run('sh', ['-c', after.join(' && ')], { cwd: tmp.dir, env: { ...env, ...here } });
    expect(done.code, done.stderr).toBe(0);
    expect(readFileSync(join(here.OUT, 'routed.jsonl')).equals(whole)).toBe(true);
    const merged = JSON.parse(readFileSync(join(here.OUT, 'stats.json'), 'utf8')) as Record<string, unknown>;
    expect([merged.recordsIn, merged.merged, merged.perExpert]).toEqual([RECORDS, n, wholeStats.perExpert]);
  });

  it('the Spark recipe pipes through the command the Dask pipes ran; the README shows the whole script', () => {
    const m = /^PIPE_COMMAND = "([^"]+)"$/m.exec(readFileSync(SCRIPT, 'utf8'));
    expect(m).not.toBeNull();
    const cmd = m?.[1] ?? '';
    expect(README).toContain(`.pipe("${cmd}")`);
    expect(README, 'README shows the complete Dask script').toContain(readFileSync(SCRIPT, 'utf8'));
  });
});
