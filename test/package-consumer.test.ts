/**
 * The package as a consumer gets it: `npm pack`, then the tarball installed
 * into a fresh project. Installed with --omit=optional, i.e. without `webgpu`,
 * as on a platform that has no prebuilt Dawn: it must still install, type-check
 * and route on the CPU. In that project: a strict .ts file (test/consumer/)
 * type-checks WITHOUT skipLibCheck and runs as ESM, a CommonJS file require()s
 * the package, and `npx moe-router` works.
 *
 * Speed: the tarball is packed from the dist/ that `npm test` just built
 * (--ignore-scripts: no second build), and npm installs with --prefer-offline
 * from its cache, which the repository's own `npm ci` filled.
 */
import { gpuDeviceNodes } from '../src/backends/gpu/gpu-devices.js';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, tempDir } from './helpers/cli.js';
import { SwitchedMoE } from '../src/index.js';

const tmp = tempDir('moe-consumer-');
afterAll(() => {
  // What this file adds to the suite, for the record (no assertion on time).
  if ((packed as PackResult | undefined) !== undefined) console.log(`package consumer: tarball ${(packed.size / 1024).toFixed(0)} KiB (${packed.files.length} files); seconds: ${JSON.stringify(seconds)}`);
  tmp.cleanup();
});
const consumer = tmp.path('consumer');
const installed = join(consumer, 'node_modules', 'moe-router');

const rootPackage = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };
const versionOf = (name: string): string => (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;

/** The child's environment without the npm_* variables of an enclosing `npm test` (they would point npm at this repository). */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) || /^npm_config_cache$/i.test(k)) env[k] = v;
  return { ...env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };
}

function run(command: string, args: string[], cwd: string, input?: string): SpawnSyncReturns<string> {
  const r = spawnSync(command, args, { cwd, env: cleanEnv(), encoding: 'utf8', input, timeout: 300_000 });
  if (r.error) throw r.error;
  return r;
}

function runOk(command: string, args: string[], cwd: string): string {
  const r = run(command, args, cwd);
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  files: { path: string }[];
}

let packed: PackResult;
const seconds: Record<string, number> = {};
function timed<T>(label: string, work: () => T): T {
  const start = performance.now();
  try {
    return work();
  } finally {
    seconds[label] = Math.round(performance.now() - start) / 1000;
  }
}

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist', 'index.js'))) throw new Error('dist/ is missing: run `npm run build` first (npm test does)');
  packed = timed('npm pack', () => {
    const out = runOk('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp.dir], ROOT);
    return (JSON.parse(out) as PackResult[])[0];
  });
  mkdirSync(join(consumer, 'src'), { recursive: true });
  writeFileSync(
    join(consumer, 'package.json'),
    JSON.stringify({
      name: 'consumer',
      version: '1.0.0',
      private: true,
      type: 'module',
      dependencies: { [rootPackage.name]: `file:${join(tmp.dir, packed.filename)}` },
      // The repository's own versions, so that they come from npm's cache.
      devDependencies: { typescript: versionOf('typescript'), '@types/node': versionOf('@types/node') },
    }),
  );
  cpSync(join(ROOT, 'test', 'consumer', 'tsconfig.json'), join(consumer, 'tsconfig.json'));
  cpSync(join(ROOT, 'test', 'consumer', 'main.ts'), join(consumer, 'src', 'main.ts'));
  cpSync(join(ROOT, 'test', 'consumer', 'cjs.cts'), join(consumer, 'src', 'cjs.cts'));
  timed('npm install', () => runOk('npm', ['install', '--prefer-offline', '--omit=optional', '--no-audit', '--no-fund'], consumer));
});

describe('the packed tarball', () => {
  it('holds dist with its shaders, not the sources or the tests', () => {
    const paths = packed.files.map((f) => f.path);
    expect(paths).toContain('dist/index.js');
    expect(paths).toContain('dist/index.d.ts');
    expect(paths).toContain('dist/cli/main.js');
    const shaders = readdirSync(join(ROOT, 'src', 'backends', 'gpu', 'shaders'));
    expect(shaders.length).toBeGreaterThan(0);
    for (const s of shaders) expect(paths).toContain(`dist/backends/gpu/shaders/${s}`);
    expect(paths.filter((p) => /^(src|test|bench|scripts)\//.test(p) || p.endsWith('.tsbuildinfo'))).toEqual([]);
  });

  it('every source map carries the exact text of its sources (src/ is not shipped)', () => {
    const maps = packed.files.map((f) => f.path).filter((p) => p.endsWith('.js.map'));
    expect(maps.length).toBeGreaterThan(10);
    for (const path of maps) {
      const map = JSON.parse(readFileSync(join(installed, path), 'utf8')) as { sources: string[]; sourcesContent?: (string | null)[] };
      expect(map.sourcesContent, path).toHaveLength(map.sources.length);
      map.sources.forEach((source, i) => {
        const original = resolve(ROOT, dirname(path), source);
        expect(relative(ROOT, original).startsWith('src')).toBe(true);
        expect(map.sourcesContent![i], `${path}: ${source}`).toBe(readFileSync(original, 'utf8'));
      });
    }
  });
});

describe('a consumer project with the tarball installed without optional dependencies', () => {
  it('installed no webgpu (nor @webgpu/types): the platform-without-Dawn case', () => {
    expect(existsSync(join(installed, 'package.json'))).toBe(true);
    expect(existsSync(join(consumer, 'node_modules', 'webgpu'))).toBe(false);
    expect(existsSync(join(consumer, 'node_modules', '@webgpu', 'types'))).toBe(false);
  });

  it('a strict .ts file using the API type-checks without skipLibCheck (and compiles)', () => {
    const config = JSON.parse(readFileSync(join(consumer, 'tsconfig.json'), 'utf8')) as { compilerOptions: Record<string, unknown> };
    expect(config.compilerOptions).toMatchObject({ strict: true, skipLibCheck: false });
    const r = timed('tsc', () => run(process.execPath, [join(consumer, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'], consumer));
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('runs as ESM: routes on the CPU, auto falls back with a warning naming the missing package, gpu fails clearly', async () => {
    const r = run(process.execPath, ['out/main.js'], consumer);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as {
      cpu: { backend: string; experts: number[]; scoresQ16: number[] };
      auto: { backend: string; experts: number[] };
      warnings: string[];
      gpuError: { name: string; code: string; message: string; isGpuUnavailable: boolean };
      streamed: [number, number][];
    };
    const texts = ['The', 'Python', 'AI and ML', '@#$%^&*'];
    const reference = await new SwitchedMoE({ numExperts: 3, complexityThreshold: 0.6, backend: 'cpu' }).routeBatch(texts);
    // The README's table (The 0.1667 -> 0, Python 0.2508 -> 1, AI and ML 0.2191 -> 1, @#$%^&* 0.4111 -> 2), in Q16.
    expect(out.cpu).toEqual({ backend: 'cpu', experts: [0, 1, 1, 2], scoresQ16: [10922, 16438, 14357, 26942] });
    expect(out.cpu.scoresQ16).toEqual([...reference.scoresQ16]);
    expect(out.auto).toEqual({ backend: 'cpu', experts: [0, 1, 1, 2] });
    expect(out.warnings).toHaveLength(1);
    expect(out.warnings[0]).toContain('the optional package webgpu');
    expect(out.warnings[0]).toContain('npm install webgpu');
    expect(out.gpuError).toMatchObject({ name: 'GpuUnavailableError', code: 'GPU_UNAVAILABLE', isGpuUnavailable: true });
    expect(out.gpuError.message).toContain('is not installed');
    expect(out.streamed).toEqual([
      [0, 0],
      [1, 1],
      [2, 1],
      [3, 2],
    ]);
  });

  it('require()s the package from CommonJS: the same module as import()', () => {
    const r = run(process.execPath, ['out/cjs.cjs'], consumer);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { expert: number; complexity: number; sameModule: boolean; exports: string[] };
    expect(out).toMatchObject({ expert: 1, complexity: 16438 / 65536, sameModule: true });
    expect(out.exports).toEqual(expect.arrayContaining(['SwitchedMoE', 'createRouteStream', 'routeRecords', 'GpuUnavailableError']));
  });

  it('npx moe-router: --help and --version; route on stdin falls back to the CPU; --backend gpu exits 2 with the reason', () => {
    const help = run('npx', ['--no-install', 'moe-router', '--help'], consumer);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^Usage: moe-router/);
    expect(help.stdout).toContain('Exit codes:');
    // The rest through the installed bin link (what npx runs), without npx's startup time.
    const bin = join(consumer, 'node_modules', '.bin', 'moe-router');
    expect(run(bin, ['-v'], consumer).stdout).toBe(`${rootPackage.version}\n`);

    const routed = run(bin, ['route', '-q'], consumer, 'The\nPython\n');
    expect(routed.status).toBe(0);
    expect(routed.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { expert: number }).expert)).toEqual([0, 1]);
    // auto warns about the missing bindings only where a hardware GPU could be: not on a machine with no GPU device node
    if (gpuDeviceNodes()?.length === 0) expect(routed.stderr).not.toContain('warning');
    else expect(routed.stderr).toContain('moe-router: warning: the optional package webgpu');

    const gpu = run(bin, ['route', '--backend', 'gpu'], consumer, 'The\n');
    expect(gpu.status).toBe(2);
    expect(gpu.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^moe-router: error: the optional package webgpu .* is not installed/)]);
  });
});
