/** The public API around the engine: backends, adapter choice, fallback, errors, lifetime. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { existsSync, readdirSync } from 'node:fs';
import { gpuDeviceNodes } from '../src/backends/gpu/gpu-devices.js';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  DeviceLostError,
  DisposedError,
  GpuError,
  GpuUnavailableError,
  STATS_STRIDE,
  SwitchedMoE,
} from '../src/index.js';
import { describeGpu } from './helpers/gpu.js';

const texts = ['The', 'Python', 'Programming', 'AI and ML', '@#$%^&*', 'Supercalifragilistic'];
const root = fileURLToPath(new URL('..', import.meta.url));

describe('CPU backend', () => {
  it('returns typed arrays, the backend and timings', async () => {
    const moe = new SwitchedMoE({ backend: 'cpu' });
    const r = await moe.routeBatch(texts, { includeStats: true });
    expect(r.backend).toBe('cpu');
    expect(r.adapter).toMatch(/CPU/);
    expect(r.experts).toBeInstanceOf(Uint32Array);
    expect(r.scores).toBeInstanceOf(Float32Array);
    expect(Array.from(r.experts)).toEqual(texts.map((t) => moe.route(t)));
    expect(Array.from(r.scores)).toEqual(texts.map((t) => Math.fround(moe.computeComplexity(t))));
    expect(r.stats?.length).toBe(texts.length * STATS_STRIDE);
    expect(r.timings.totalMs).toBeGreaterThanOrEqual(r.timings.computeMs);
    await moe.dispose();
  });

  it('rejects malformed packed batches with a clear message', async () => {
    const moe = new SwitchedMoE({ backend: 'cpu' });
    await expect(moe.routeBatch({ bytes: new Uint8Array(2), offsets: Uint32Array.of(0, 3) })).rejects.toThrow(/offsets end at 3 but bytes has only 2/);
    await expect(moe.routeBatch({ bytes: new Uint8Array(4), offsets: Uint32Array.of(0, 3, 2) })).rejects.toThrow(ConfigError);
  });

  it('rejects non-string texts and bad plan limits with ConfigError', async () => {
    const moe = new SwitchedMoE({ backend: 'cpu' });
    await expect(moe.routeBatch(['a', 3 as unknown as string])).rejects.toThrow(/texts\[1\] is a number \(3\), not a string/);
    expect(() => new SwitchedMoE({ gpu: { planLimits: { windowBytes: 6 } } })).toThrow(ConfigError);
    expect(() => new SwitchedMoE({ gpu: { planLimits: { chunkBytes: 0 } } })).toThrow(/invalid gpu.planLimits/);
  });

  it('honours MOE_ROUTER_BACKEND and rejects unknown backends', async () => {
    process.env.MOE_ROUTER_BACKEND = 'cpu';
    try {
      const r = await new SwitchedMoE().routeBatch(['x']);
      expect(r.backend).toBe('cpu');
      process.env.MOE_ROUTER_BACKEND = 'tpu';
      expect(() => new SwitchedMoE()).toThrow(/backend must be one of auto, gpu, cpu, cpu-reference, got "tpu" \(from MOE_ROUTER_BACKEND\)/);
    } finally {
      delete process.env.MOE_ROUTER_BACKEND;
    }
  });

  it('refuses work after dispose', async () => {
    const moe = new SwitchedMoE({ backend: 'cpu' });
    await moe.dispose();
    await expect(moe.routeBatch(['a'])).rejects.toThrow(DisposedError);
  });
});

describe('adapter choice and fallback', () => {
  // D3D12 exists only on Windows: on this platform it never yields an adapter.
  const noAdapter = process.platform === 'win32' ? 'metal' : 'd3d12';

  it("'gpu' without an adapter fails with a message that says how to get one", async () => {
    const moe = new SwitchedMoE({ backend: 'gpu', gpu: { backend: noAdapter } });
    const err = await moe.routeBatch(texts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GpuUnavailableError);
    expect((err as Error).message).toMatch(/no WebGPU adapter found/);
    expect((err as Error).message).toMatch(/EGL_PLATFORM=surfaceless/);
    expect((err as Error).message).toMatch(/backend "cpu"/);
  });

  it("'auto' without an adapter routes on the CPU, without a warning, and says why", async () => {
    const warnings: string[] = [];
    const moe = new SwitchedMoE({ gpu: { backend: noAdapter }, onWarning: (m) => warnings.push(m) });
    const [a, b] = await Promise.all([moe.routeBatch(texts), moe.routeBatch(texts)]);
    const c = await moe.routeBatch(texts);
    expect([a.backend, b.backend, c.backend]).toEqual(['cpu', 'cpu', 'cpu']);
    expect(warnings).toEqual([]);
    expect((await moe.chooseBackend()).reason).toMatch(/^auto: no WebGPU adapter/);
  });

  it("'auto' on a machine with no GPU device node chooses the fast CPU without opening Dawn, and says why", async () => {
    expect(gpuDeviceNodes('darwin')).toBeNull();
    const nodes = gpuDeviceNodes();
    const listed = ['/dev/dri', '/dev'].flatMap((d) => (existsSync(d) ? readdirSync(d).filter((n) => /^(renderD|nvidia)/.test(n)).map((n) => `${d}/${n}`) : []));
    expect(nodes).toEqual([...listed.filter((p) => p.startsWith('/dev/dri')), ...listed.filter((p) => !p.startsWith('/dev/dri')), ...(existsSync('/dev/dxg') ? ['/dev/dxg'] : [])]);
    const moe = new SwitchedMoE();
    const choice = await moe.chooseBackend();
    if (nodes?.length === 0) {
      expect(choice).toEqual({ backend: 'cpu', reason: expect.stringMatching(/^auto: no GPU device on this machine/) });
      expect((await moe.routeBatch(texts)).backend).toBe('cpu');
    } else {
      expect(choice.reason).not.toMatch(/no GPU device/);
    }
    await moe.dispose();
  });

  it('rejects an unknown GPU backend from the environment when the router is made, as MOE_ROUTER_BACKEND', async () => {
    process.env.MOE_ROUTER_GPU_BACKEND = 'glide';
    try {
      for (const backend of ['gpu', 'auto', 'cpu'] as const) {
        expect(() => new SwitchedMoE({ backend })).toThrow(ConfigError);
        expect(() => new SwitchedMoE({ backend })).toThrow(/GPU backend must be one of auto, vulkan, .*, got "glide" \(from MOE_ROUTER_GPU_BACKEND\)/);
      }
    } finally {
      delete process.env.MOE_ROUTER_GPU_BACKEND;
    }
  });
});

describeGpu('GPU backend', () => {
  it('describes its adapter and matches the single-string API', async () => {
    const moe = new SwitchedMoE({ backend: 'gpu' });
    try {
      const r = await moe.routeBatch(texts);
      expect(r.backend).toBe('gpu');
      expect(r.adapter.length).toBeGreaterThan(5);
      expect(Array.from(r.experts)).toEqual([0, 1, 1, 1, 2, 2]);
      expect(Array.from(r.confidence)).toEqual(texts.map((t) => Math.fround(moe.confidence(t))));
      expect(moe.getMetrics().adapter).toBe(r.adapter);
      expect(moe.getMetrics().routed.total).toBe(texts.length);
    } finally {
      await moe.dispose();
    }
  });

  it('serialises concurrent batches correctly', async () => {
    const moe = new SwitchedMoE({ backend: 'gpu' });
    try {
      const batches = Array.from({ length: 6 }, (_, k) => Array.from({ length: 500 + k * 37 }, (_, i) => `${'w'.repeat(i % 23)} ${k} ${i}!`));
      const results = await Promise.all(batches.map((b) => moe.routeBatch(b)));
      for (let k = 0; k < batches.length; k++) {
        const cpu = await moe.routeBatch(batches[k], { backend: 'cpu' });
        expect(Array.from(results[k].scoresQ16)).toEqual(Array.from(cpu.scoresQ16));
      }
    } finally {
      await moe.dispose();
    }
  });

  it('turns a Dawn validation error into a thrown GpuError (error scopes), and stays usable', async () => {
    // One group holding 2 M statistics records needs a binding past maxStorageBufferBindingSize (128 MiB here).
    const moe = new SwitchedMoE({ backend: 'gpu', gpu: { planLimits: { stringsPerGroup: 1 << 22, workgroupsPerDimension: 65535 } } });
    try {
      const binding = 128 * 1024 * 1024;
      const n = Math.ceil(binding / (STATS_STRIDE * 4)) + 1024;
      const err = await moe.routeBatch({ bytes: new Uint8Array(0), offsets: new Uint32Array(n + 1) }).catch((e: unknown) => e);
      if (err instanceof GpuError) {
        expect(err.code).toBe('GPU_VALIDATION');
        expect(err.message).toMatch(/WebGPU validation error during routing a batch/);
        const ok = await moe.routeBatch(texts);
        expect(ok.backend).toBe('gpu');
      } else {
        // A GPU whose binding limit is larger simply routes it.
        expect((err as { count?: number }).count).toBe(n);
      }
    } finally {
      await moe.dispose();
    }
  });

  it('after a device loss: gpu throws DeviceLostError, auto falls back to the CPU with a warning', async () => {
    const warnings: string[] = [];
    process.env.MOE_ROUTER_AUTO_SOFTWARE_GPU = '1'; // let 'auto' take the software adapter of the test machines
    const auto = new SwitchedMoE({ onWarning: (m) => warnings.push(m) });
    delete process.env.MOE_ROUTER_AUTO_SOFTWARE_GPU;
    const strict = new SwitchedMoE({ backend: 'gpu' });
    try {
      expect((await auto.routeBatch(texts)).backend).toBe('gpu');
      await auto.loseDeviceForTesting();
      const after = await auto.routeBatch(texts);
      expect(after.backend).toBe('cpu');
      expect(Array.from(after.experts)).toEqual([0, 1, 1, 1, 2, 2]);
      expect(warnings.join('\n')).toMatch(/device was lost/);

      await strict.routeBatch(texts);
      await strict.loseDeviceForTesting();
      await expect(strict.routeBatch(texts)).rejects.toThrow(DeviceLostError);
    } finally {
      await auto.dispose();
      await strict.dispose();
    }
  });

  it('picks an adapter by name, and lists the adapters when the name matches none', async () => {
    const missing = new SwitchedMoE({ backend: 'gpu', gpu: { adapter: 'no-such-adapter-xyz' } });
    const err = await missing.routeBatch(texts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GpuUnavailableError);
    const message = (err as Error).message;
    expect(message).toMatch(/Available adapters/);
    const name = /name: '([^']+)'/.exec(message)?.[1];
    expect(name).toBeDefined();
    process.env.MOE_ROUTER_GPU_ADAPTER = name;
    const named = new SwitchedMoE({ backend: 'gpu' });
    try {
      const r = await named.routeBatch(texts);
      expect(r.backend).toBe('gpu');
      expect(Array.from(r.experts)).toEqual([0, 1, 1, 1, 2, 2]);
    } finally {
      delete process.env.MOE_ROUTER_GPU_ADAPTER;
      await named.dispose();
    }
  });

  it('lets the process exit after dispose()', () => {
    const script = `
      import { SwitchedMoE } from './dist/index.js';
      const moe = new SwitchedMoE({ backend: 'gpu' });
      const r = await moe.routeBatch(['The', 'Supercalifragilistic']);
      console.log(r.backend, Array.from(r.experts).join(','));
      await moe.dispose();
    `;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(child.error).toBeUndefined(); // a timeout (process kept alive) would be an error here
    expect(child.status).toBe(0);
    expect(child.stdout.trim()).toBe('gpu 0,2');
  });
});
