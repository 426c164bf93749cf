/**
 * Hadoop Streaming: `route --hadoop-counters` through the real binary, and the README's mapper
 * (examples/scale-out/hadoop-mapper.sh) run as Streaming runs it: one split on stdin, records out
 * on stdout, counters on stderr. Hadoop itself is not installable here; the mapper is the part
 * of the recipe that is ours.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, runCli, tempDir } from './helpers/cli.js';
import { corpusWithIds, moeRouterOnPath, routingById, splitRouting, zipped } from './helpers/scale-out.js';

const tmp = tempDir('moe-hadoop-');
afterAll(() => tmp.cleanup());

const MAPPER = join(ROOT, 'examples', 'scale-out', 'hadoop-mapper.sh');
const COUNTER = /^reporter:counter:moe-router,([a-z0-9-]+),(\d+)$/;

function counters(stderr: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of stderr.split('\n')) {
    const m = COUNTER.exec(line);
    if (m) {
      expect(out.has(m[1]), `counter ${m[1]} written once`).toBe(false);
      out.set(m[1], Number(m[2]));
    }
  }
  return out;
}

function runMapper(input: Buffer, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [MAPPER], { env: { ...env, mapreduce_task_id: 'task_1_0001_m_000003' }, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
    child.stdin.end(input);
  });
}

describe('route --hadoop-counters', () => {
  it('writes the per-expert counts of the sample corpus (the README figures) and the record counters, also with -q', async () => {
    const r = await runCli(['route', 'examples/corpus.txt', '--backend', 'cpu', '-q', '--hadoop-counters']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(
      [
        'reporter:counter:moe-router,records-in,60',
        'reporter:counter:moe-router,records-out,60',
        'reporter:counter:moe-router,routed,60',
        'reporter:counter:moe-router,errors,0',
        'reporter:counter:moe-router,bytes-in,2189',
        'reporter:counter:moe-router,expert-0,9',
        'reporter:counter:moe-router,expert-1,14',
        'reporter:counter:moe-router,expert-2,37',
        '',
      ].join('\n'),
    );
    expect(readFileSync(join(ROOT, 'README.md'), 'utf8'), 'README shows these lines').toContain('```\n' + r.stderr + '```');
    // the data on stdout is untouched by the option
    const plain = await runCli(['route', 'examples/corpus.txt', '--backend', 'cpu', '-q']);
    expect(r.stdout.equals(plain.stdout)).toBe(true);
    expect(plain.stderr).toBe('');
  });

  it('agree with --stats for every expert, zeros included, next to the summary', async () => {
    const stats = tmp.path('stats.json');
    const r = await runCli(['route', 'examples/corpus.txt', '--backend', 'cpu', '--boundaries', '0.001,0.002,0.5', '--hadoop-counters', '--stats', stats]);
    expect(r.code).toBe(0);
    const s = JSON.parse(readFileSync(stats, 'utf8')) as { perExpert: number[]; recordsIn: number; bytes: number };
    const c = counters(r.stderr);
    expect(s.perExpert).toHaveLength(4);
    expect(s.perExpert[1]).toBe(0); // nothing scores in [0.001, 0.002)
    s.perExpert.forEach((n, e) => expect(c.get(`expert-${e}`)).toBe(n));
    expect(c.get('records-in')).toBe(s.recordsIn);
    expect(c.get('bytes-in')).toBe(s.bytes);
    expect(r.stderr).toContain('moe-router: routed 60 records in, 60 out');
  });

  it('a bad record: exit 1, and the counters of the stopped run (the bad record read, not written)', async () => {
    const input = '{"text":"one"}\n{"text":"two"}\n{"text": 3}\n{"text":"four"}\n';
    const r = await runCli(['route', '-', '--format', 'jsonl', '--backend', 'cpu', '-q', '--hadoop-counters'], { input });
    expect(r.code).toBe(1);
    const c = counters(r.stderr);
    expect([c.get('records-in'), c.get('records-out'), c.get('routed'), c.get('errors')]).toEqual([3, 2, 2, 1]);
    expect(r.stderr).toMatch(/^moe-router: error: stdin:3: /m);
  });

  it('without the option, no counter lines', async () => {
    const r = await runCli(['route', 'examples/corpus.txt', '--backend', 'cpu'], { env: { mapreduce_task_id: 'task_1_0001_m_000000' } });
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain('reporter:');
  });
});

describe('the Hadoop Streaming mapper (examples/scale-out/hadoop-mapper.sh)', () => {
  it('is in the README as it is', () => {
    expect(readFileSync(join(ROOT, 'README.md'), 'utf8')).toContain('```bash\n' + readFileSync(MAPPER, 'utf8') + '```');
  });

  const corpus = corpusWithIds(30_000, 1010);
  const file = tmp.path('corpus.jsonl');
  writeFileSync(file, corpus.bytes);
  const env = moeRouterOnPath(tmp.dir);

  it('pairs each record of a split with its routing, exactly as a single-machine run routes it, and counts it', async () => {
    const whole = await runCli(['route', file, '--backend', 'cpu', '-q']);
    expect(whole.code).toBe(0);
    const byId = routingById(corpus.lines, whole.out);
    // a split as Streaming hands it over: a run of whole lines from the middle of the file
    const from = 7_001;
    const split = corpus.lines.slice(from, 26_500);
    const r = await runMapper(Buffer.from(split.join('\n') + '\n'), env);
    expect(r.stderr.split('\n').filter((l) => l !== '' && !COUNTER.test(l))).toEqual([]);
    expect(r.code).toBe(0);
    const pairs = zipped(r.stdout);
    expect(pairs.map(([line]) => line)).toEqual(split);
    const perExpert = [0, 0, 0];
    pairs.forEach(([line, routing], i) => {
      const { index, rest } = splitRouting(routing);
      expect(index).toBe(i); // moe-router counts within the split: the id is what identifies the record
      const id = (JSON.parse(line) as { id: string }).id;
      expect(rest, id).toBe(byId.get(id));
      perExpert[(JSON.parse(routing) as { expert: number }).expert]++;
    });
    const c = counters(r.stderr);
    expect(c.get('records-in')).toBe(split.length);
    expect(c.get('records-out')).toBe(split.length);
    expect([c.get('expert-0'), c.get('expert-1'), c.get('expert-2')]).toEqual(perExpert);
    expect(perExpert.every((n) => n > 0)).toBe(true);
  });

  it('a bad record fails the task with the message and writes no record', async () => {
    const r = await runMapper(Buffer.from(corpus.lines.slice(0, 50).join('\n') + '\n{"id":"x"}\n'), env);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^moe-router: error: .*:51: /m);
  });
});
