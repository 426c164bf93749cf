/**
 * Outputs never destroy an input or each other, are all-or-nothing, keep
 * symlinks and modes; pipes and signals end the process the way a filter
 * should. Every case drives the real binary on real files.
 */
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, linkSync, lstatSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, jsonl, runCli, stderrLines, tempDir } from './helpers/cli.js';
import { describeGpu } from './helpers/gpu.js';

const tmp = tempDir('moe-outputs-');
afterAll(() => tmp.cleanup());

const CPU = ['--backend', 'cpu'];
const corpus = readFileSync('examples/corpus.txt');

/** A fresh copy of the sample corpus, and its bytes, so a test can check it is untouched. */
function input(name: string): string {
  const p = tmp.path(name);
  copyFileSync('examples/corpus.txt', p);
  return p;
}

function noTemporaries(dir = tmp.dir): void {
  expect(readdirSync(dir).filter((x) => x.includes('.tmp-'))).toEqual([]);
}

describe('an output is never an input, nor another output (checked before reading)', () => {
  it.each([
    ['--out is the input', (c: string) => ['--out', c]],
    ['--stats is the input', (c: string) => ['--stats', c]],
    ['--out is the input by another name (./dir/../name)', (c: string) => ['--out', c.replace(/([^/]+)$/, '../' + tmp.dir.split('/').pop() + '/$1')]],
  ])('%s: exit 2, one line naming both, input unchanged', async (_name, args) => {
    const c = input('c.txt');
    const r = await runCli(['route', c, ...CPU, ...args(c)]);
    expect(r.code).toBe(2);
    const lines = stderrLines(r.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^moe-router: error: .* is the input .*c\.txt: an output must not overwrite its input$/);
    expect(readFileSync(c)).toEqual(corpus);
    expect(r.out).toBe('');
    noTemporaries();
  });

  it('through a symlink and a hard link to the input', async () => {
    const c = input('linked.txt');
    symlinkSync(c, tmp.path('sym.jsonl'));
    linkSync(c, tmp.path('hard.jsonl'));
    for (const out of ['sym.jsonl', 'hard.jsonl']) {
      const r = await runCli(['route', c, ...CPU, '--out', tmp.path(out)]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('an output must not overwrite its input');
    }
    expect(readFileSync(c)).toEqual(corpus);
  });

  it('stdin redirected from the file that is also --out', async () => {
    const c = input('stdin.txt');
    const r = await new Promise<{ code: number | null; err: string }>((resolve) => {
      const child = spawn('sh', ['-c', `exec "${process.execPath}" "${CLI}" route - --backend cpu --out "${c}" < "${c}"`], { stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      child.stderr.on('data', (b: Buffer) => (err += b.toString()));
      child.on('close', (code) => resolve({ code, err }));
    });
    expect(r.code).toBe(2);
    expect(r.err).toContain('is the input stdin');
    expect(readFileSync(c)).toEqual(corpus);
  });

  it('two outputs that are the same file: --out and --stats, --out inside --shards', async () => {
    const c = input('two.txt');
    const x = tmp.path('x.jsonl');
    writeFileSync(x, 'previous\n');
    const a = await runCli(['route', c, ...CPU, '--out', x, '--stats', x]);
    expect(a.code).toBe(2);
    expect(stderrLines(a.stderr)[0]).toMatch(/stats file .*x\.jsonl and output .*x\.jsonl are the same file/);
    expect(readFileSync(x, 'utf8')).toBe('previous\n');

    const sh = tmp.path('sh');
    mkdirSync(sh);
    const b = await runCli(['route', c, ...CPU, '--out', `${sh}/expert-0.txt`, '--shards', sh]);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain('are the same file');
    noTemporaries(sh);
  });

  it('an output that is a directory or in a missing or read-only directory fails before anything is replaced', async () => {
    const c = input('dirs.txt');
    const out = tmp.path('keep.jsonl');
    writeFileSync(out, 'previous\n');
    const statsDir = tmp.path('statsdir');
    mkdirSync(statsDir);
    const shardDir = tmp.path('shd');
    mkdirSync(`${shardDir}/expert-0.txt`, { recursive: true });
    const cases: [string[], RegExp][] = [
      [['--out', out, '--stats', statsDir], /cannot write stats file .*statsdir: it is a directory/],
      [['--out', out, '--shards', shardDir], /cannot write shard file .*expert-0\.txt: it is a directory/],
      [['--out', tmp.dir], /cannot write output .*: it is a directory/],
      [['--out', out, '--stats', tmp.path('missing/s.json')], /its directory .*missing does not exist/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(['route', c, ...CPU, ...args]);
      expect(r.code).toBe(2);
      expect(stderrLines(r.stderr)).toHaveLength(1);
      expect(r.stderr).toMatch(message);
      expect(readFileSync(out, 'utf8')).toBe('previous\n');
    }
    noTemporaries();
  });

  it('a read-only directory is refused up front (skipped as root, who may write anywhere)', async () => {
    if (process.getuid?.() === 0) return;
    const ro = tmp.path('ro');
    mkdirSync(ro);
    chmodSync(ro, 0o555);
    const r = await runCli(['route', input('ro.txt'), ...CPU, '--out', `${ro}/o.jsonl`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('is not writable');
  });
});

describe('all outputs or none', () => {
  it('a run stopped by a bad record replaces neither --out nor --stats nor shards', async () => {
    const bad = tmp.path('bad.jsonl');
    writeFileSync(bad, '{"text":"ok"}\n{"text": broken\n');
    const out = tmp.path('aon.jsonl');
    const stats = tmp.path('aon.json');
    writeFileSync(out, 'old out\n');
    writeFileSync(stats, 'old stats\n');
    const r = await runCli(['route', bad, ...CPU, '--out', out, '--stats', stats, '--shards', tmp.path('aon-sh')]);
    expect(r.code).toBe(1);
    expect(readFileSync(out, 'utf8')).toBe('old out\n');
    expect(readFileSync(stats, 'utf8')).toBe('old stats\n');
    expect(readdirSync(tmp.path('aon-sh'))).toEqual([]);
    noTemporaries();
  });

  it('a shard that hits a full disk (/dev/full): exit 2 naming the shard, no other output replaced', async () => {
    if (!existsSync('/dev/full')) return;
    const sh = tmp.path('full');
    mkdirSync(sh);
    symlinkSync('/dev/full', `${sh}/expert-2.txt`);
    const out = tmp.path('full.jsonl');
    writeFileSync(out, 'old\n');
    const r = await runCli(['route', input('full.txt'), ...CPU, '--out', out, '--shards', sh]);
    expect(r.code).toBe(2);
    const lines = stderrLines(r.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^moe-router: error: cannot write shard .*expert-2\.txt: no space left on device$/);
    expect(readFileSync(out, 'utf8')).toBe('old\n');
    noTemporaries(sh);
  });
});

describe('symlinks and modes', () => {
  it('--out through a symlink replaces the target and keeps the link; an existing file keeps its mode', async () => {
    const target = tmp.path('real-out.jsonl');
    writeFileSync(target, 'old\n');
    chmodSync(target, 0o600);
    const link = tmp.path('link.jsonl');
    symlinkSync(target, link);
    const r = await runCli(['route', 'examples/corpus.txt', ...CPU, '-q', '--out', link]);
    expect(r.code).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(jsonl(readFileSync(target, 'utf8'))).toHaveLength(60);
    expect(statSync(target).mode & 0o777).toBe(0o600);
    noTemporaries();
  });
});

describe('pipes, closed streams and signals', () => {
  const big = tmp.path('big.txt');
  writeFileSync(big, 'line of text\n'.repeat(300_000));

  it('stdout closed by the caller (>&-): exit 2 "stdout is closed", nothing routed into the void', async () => {
    const r = await new Promise<{ code: number | null; err: string }>((resolve) => {
      const child = spawn('sh', ['-c', `exec "${process.execPath}" "${CLI}" route "${big}" --backend cpu >&-`], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.on('data', (b: Buffer) => (err += b.toString()));
      child.on('close', (code) => resolve({ code, err }));
    });
    expect(r.code).toBe(2);
    expect(r.err.trim()).toMatch(/^moe-router: error: stdout is closed/);
  });

  it('stderr closed by its reader (2>&1 >/dev/null | true): a successful run still exits 0', async () => {
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, [CLI, 'route', big, '--backend', 'cpu', '--out', '/dev/null'], { stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr.destroy();
      child.on('close', (c) => resolve(c));
    });
    expect(code).toBe(0);
  });

  it.each([
    ['SIGHUP', 129],
    ['SIGQUIT', 131],
  ] as const)('%s removes the temporary file, like SIGINT and SIGTERM (exit %i)', async (signal, expected) => {
    const out = tmp.path(`sig-${signal}.jsonl`);
    const child = spawn(process.execPath, [CLI, 'route', '-', '--backend', 'cpu', '-q', '--out', out], { stdio: ['pipe', 'ignore', 'pipe'] });
    child.stdin.write('some text\n'.repeat(1000));
    const hasTmp = (): boolean => readdirSync(tmp.dir).some((x) => x.startsWith(`sig-${signal}.jsonl.tmp-`));
    for (let waited = 0; !hasTmp() && waited < 30_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    expect(hasTmp()).toBe(true);
    const code = await new Promise<number | null>((r) => {
      child.on('close', (c) => r(c));
      child.kill(signal);
    });
    expect(code).toBe(expected);
    expect(existsSync(out)).toBe(false);
    expect(hasTmp()).toBe(false);
  });
});

describeGpu('pipes on the GPU path', () => {
  it('| head -1 on the GPU: exit 141, no message, no false device-lost warning', async () => {
    const f = tmp.path('gpu-big.txt');
    writeFileSync(f, 'some words of text\n'.repeat(200_000));
    const r = await new Promise<{ code: number | null; err: string; first: string }>((resolve) => {
      const child = spawn(process.execPath, [CLI, 'route', f, '--backend', 'gpu', '-q', '--batch-records', '5000'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      let first = '';
      child.stderr.on('data', (b: Buffer) => (err += b.toString()));
      child.stdout.once('data', (b: Buffer) => {
        first = b.toString().split('\n')[0];
        child.stdout.destroy();
      });
      child.on('close', (code) => resolve({ code, err, first }));
    });
    expect(JSON.parse(r.first)).toMatchObject({ index: 0 });
    expect(r.code).toBe(141);
    expect(stderrLines(r.err)).toEqual([]);
  });

  it('a bad record on the GPU path: exit 1 with no false device-lost warning', async () => {
    const f = tmp.path('gpu-bad.jsonl');
    writeFileSync(f, '{"text":"fine"}\n'.repeat(50_000) + 'not json\n' + '{"text":"after"}\n'.repeat(50_000));
    const r = await runCli(['route', f, '--backend', 'gpu', '-q', '--out', '/dev/null', '--batch-records', '2000']);
    expect(r.code).toBe(1);
    const lines = stderrLines(r.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/gpu-bad\.jsonl:50001: invalid JSON/);
  });

  it('a device lost under --backend auto is counted in --stats (cpuFallbackBatches)', async () => {
    const f = tmp.path('auto-loss.txt');
    writeFileSync(f, 'alpha beta\nGamma_1 = 2;\n'.repeat(5000));
    const r = await runCli(['route', f, '--backend', 'auto', '--batch-records', '1000', '--out', '/dev/null', '--stats', tmp.path('auto-loss.json')], {
      env: { MOE_ROUTER_TEST_LOSE_DEVICE_AFTER_BATCHES: '3', MOE_ROUTER_AUTO_SOFTWARE_GPU: '1' },
    });
    expect(r.code).toBe(0);
    const s = JSON.parse(readFileSync(tmp.path('auto-loss.json'), 'utf8')) as { cpuFallbackBatches: number; recordsOut: number; backend: string };
    expect(s.recordsOut).toBe(10_000);
    expect(s.cpuFallbackBatches).toBe(7);
    expect(s.backend).toBe('gpu+cpu');
  });
});
