/**
 * The GPU from a worker_threads worker. Mesa's EGL reads EGL_PLATFORM from the
 * process's real environment; a worker's process.env is a copy, so without the
 * variable in the real environment the software adapter fails there. The
 * message must say so (not "tried OpenGL ES (EGL surfaceless)"), and each fix
 * it names must work. Every case is a fresh Node process (its real environment
 * is the point) whose main thread starts a real Worker on the built package.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { describeGpu } from './helpers/gpu.js';
import { ROOT, tempDir } from './helpers/cli.js';
import { SwitchedMoE } from '../src/index.js';

const tmp = tempDir('moe-worker-');
afterAll(() => tmp.cleanup());

const TEXTS = ['The', 'Python', 'fn(x) => x * 2; // ünïcode', '@#$%^&*', 'Supercalifragilistic', '日本語のテキスト 🚀', ''];

// argv[2]: how the main thread starts the worker. The worker routes TEXTS with
// backend 'gpu' (only the OpenGL ES path, the one EGL_PLATFORM is for) and with
// backend 'auto', and posts what happened.
const SCRIPT = `
import { Worker, isMainThread, parentPort, workerData, SHARE_ENV } from 'node:worker_threads';
const texts = ${JSON.stringify(TEXTS)};
if (isMainThread) {
  const mode = process.argv[2];
  if (mode === 'main-thread-sets') process.env.EGL_PLATFORM = 'surfaceless';
  const options = { workerData: mode };
  if (mode === 'worker-env-option') options.env = { ...process.env, EGL_PLATFORM: 'surfaceless' };
  if (mode === 'share-env') options.env = SHARE_ENV;
  const worker = new Worker(new URL(import.meta.url), options);
  worker.on('message', (m) => process.stdout.write(JSON.stringify(m) + '\\n'));
  worker.on('error', (e) => { process.stdout.write(JSON.stringify({ crashed: String(e && e.stack) }) + '\\n'); });
} else {
  const { SwitchedMoE } = await import(${JSON.stringify(pathToFileURL(join(ROOT, 'dist', 'index.js')).href)});
  const warnings = [];
  const out = {};
  const gpu = new SwitchedMoE({ gpu: { backend: 'opengles' } });
  try {
    const r = await gpu.routeBatch(texts, { backend: 'gpu' });
    out.gpu = { backend: r.backend, adapter: r.adapter, experts: [...r.experts], scoresQ16: [...r.scoresQ16], confidenceQ16: [...r.confidenceQ16] };
  } catch (e) {
    out.gpuError = { name: e.name, code: e.code, message: e.message };
  }
  await gpu.dispose();
  // 'auto' would prefer the fast CPU over the software adapter of the test machines: let it take the adapter.
  process.env.MOE_ROUTER_AUTO_SOFTWARE_GPU = '1';
  const auto = new SwitchedMoE({ gpu: { backend: 'opengles' }, onWarning: (m) => warnings.push(m) });
  const a = await auto.routeBatch(texts);
  out.auto = { backend: a.backend, experts: [...a.experts], scoresQ16: [...a.scoresQ16], warnings, reason: (await auto.chooseBackend()).reason };
  await auto.dispose();
  parentPort.postMessage(out);
}
`;
const script = join(tmp.dir, 'worker-gpu.mjs');
writeFileSync(script, SCRIPT);

interface WorkerReport {
  gpu?: { backend: string; adapter: string; experts: number[]; scoresQ16: number[]; confidenceQ16: number[] };
  gpuError?: { name: string; code: string; message: string };
  auto: { backend: string; experts: number[]; scoresQ16: number[]; warnings: string[]; reason: string };
}

function runWorker(mode: string, realEnv: Record<string, string> = {}): WorkerReport {
  const env: NodeJS.ProcessEnv = { ...process.env, ...realEnv };
  // No display either: Mesa's default platform must not rescue the run by chance.
  for (const name of ['DISPLAY', 'WAYLAND_DISPLAY']) delete env[name];
  if (!('EGL_PLATFORM' in realEnv)) delete env.EGL_PLATFORM;
  const r = spawnSync(process.execPath, [script, mode], { env, encoding: 'utf8', timeout: 120_000 });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim()) as WorkerReport;
}

// The CPU reference in this process: what every worker result must equal, bit for bit.
const cpu = await new SwitchedMoE({ backend: 'cpu' }).routeBatch(TEXTS);
const expected = { experts: [...cpu.experts], scoresQ16: [...cpu.scoresQ16], confidenceQ16: [...cpu.confidenceQ16] };

function expectExact(report: WorkerReport): void {
  expect(report.gpuError).toBeUndefined();
  expect(report.gpu!.backend).toBe('gpu');
  expect(report.gpu!.adapter).toMatch(/\(opengles, software, compatibility\)$/);
  expect({ experts: report.gpu!.experts, scoresQ16: report.gpu!.scoresQ16, confidenceQ16: report.gpu!.confidenceQ16 }).toEqual(expected);
  // Pinned: the golden scores of the README's examples (The 0.1667, Python 0.2508) in Q16.
  expect(report.gpu!.scoresQ16.slice(0, 2)).toEqual([10922, 16438]);
  expect(report.auto.backend).toBe('gpu');
  expect(report.auto.warnings).toEqual([]);
}

// EGL_PLATFORM is Mesa's: Linux only.
const describeLinuxGpu = process.platform === 'linux' ? describeGpu : describe.skip;

describeLinuxGpu('GPU in a worker thread (OpenGL ES software adapter)', () => {
  it('without EGL_PLATFORM in the real environment: says it is a worker thread and what to do; auto routes on the CPU', () => {
    const report = runWorker('plain');
    expect(report.gpu).toBeUndefined();
    const err = report.gpuError!;
    expect(err.name).toBe('GpuUnavailableError');
    expect(err.code).toBe('GPU_UNAVAILABLE');
    // The old message claimed this although the setting never took effect.
    expect(err.message).not.toContain('EGL surfaceless)');
    expect(err.message).toContain('tried opengles (EGL_PLATFORM unset, and a worker thread cannot set it): no adapter');
    expect(err.message).toContain('This is a worker thread and EGL_PLATFORM was not in its environment');
    expect(err.message).toContain('EGL_PLATFORM=surfaceless node app.js');
    expect(err.message).toContain("set process.env.EGL_PLATFORM = 'surfaceless' on the main thread before creating the Worker");
    // auto: the CPU's exact results, no warning (the CPU is auto's choice without a hardware GPU), and the same explanation as its reason.
    expect(report.auto.backend).toBe('cpu');
    expect(report.auto.warnings).toEqual([]);
    expect(report.auto.reason).toContain('This is a worker thread');
    expect(report.auto.experts).toEqual(expected.experts);
    expect(report.auto.scoresQ16).toEqual(expected.scoresQ16);
  });

  it('EGL_PLATFORM given only through new Worker({ env }): named as such', () => {
    const report = runWorker('worker-env-option');
    expect(report.gpuError?.message).toContain("EGL_PLATFORM=surfaceless in this worker thread's process.env, not in the environment Node started with");
    expect(report.gpuError?.message).toContain('passed through new Worker(..., { env }), does not reach it');
  });

  it('fix 1: EGL_PLATFORM=surfaceless in the environment Node starts with', () => {
    expectExact(runWorker('plain', { EGL_PLATFORM: 'surfaceless' }));
  });

  it('fix 2: the main thread sets process.env.EGL_PLATFORM before creating the Worker', () => {
    expectExact(runWorker('main-thread-sets'));
  });

  it('fix 3: a Worker created with env: SHARE_ENV', () => {
    expectExact(runWorker('share-env'));
  });
});
