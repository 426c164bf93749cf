/**
 * The GPU path's stage breakdown on a corpus of short lines: bytes uploaded
 * and read back per record (counted at the WebGPU calls themselves, so the
 * figure does not depend on the router's own accounting), and the ms of each
 * stage that routeBatch reports in r.timings. Batches go through routeBatch
 * `inFlight` at a time, as the route job sends them. Every batch is checked
 * against the CPU reference before any figure is printed.
 * Run: npm run build && node --import tsx bench/gpu-stages.ts [MB] [records per batch] [in flight]
 */
import { SwitchedMoE, type BatchRouting, type PackedBatch } from '../src/index.js';
import { realTextAndCode } from './corpora.js';

const targetMB = Number(process.argv[2] ?? 50);
const perBatch = Number(process.argv[3] ?? 65536);
const inFlight = Number(process.argv[4] ?? 2);

/** Short lines of real text and code, repeated up to targetMB. */
function corpus(): PackedBatch {
  const one = realTextAndCode().batch;
  const n1 = one.offsets.length - 1;
  const reps = Math.ceil((targetMB * 1e6) / one.bytes.length);
  const bytes = new Uint8Array(one.bytes.length * reps);
  const offsets = new Uint32Array(n1 * reps + 1);
  for (let r = 0; r < reps; r++) {
    bytes.set(one.bytes, r * one.bytes.length);
    for (let i = 1; i <= n1; i++) offsets[r * n1 + i] = one.offsets[i] + r * one.bytes.length;
  }
  return { bytes, offsets };
}

function slices(b: PackedBatch): PackedBatch[] {
  const out: PackedBatch[] = [];
  const n = b.offsets.length - 1;
  for (let first = 0; first < n; first += perBatch) {
    const end = Math.min(n, first + perBatch);
    const base = b.offsets[first];
    const offsets = new Uint32Array(end - first + 1);
    for (let i = 0; i <= end - first; i++) offsets[i] = b.offsets[first + i] - base;
    out.push({ bytes: b.bytes.subarray(base, b.offsets[end]), offsets });
  }
  return out;
}

/** GPU_STAGES_CHUNK=N: the plan's chunkBytes (bytes per invocation), to tune it. */
const chunk = process.env.GPU_STAGES_CHUNK ? Number(process.env.GPU_STAGES_CHUNK) : undefined;
const moe = new SwitchedMoE({ backend: 'gpu', ...(chunk ? { gpu: { planLimits: { chunkBytes: chunk } } } : {}) });
const warm = await moe.routeBatch(['warm up']);
console.log(`adapter: ${warm.adapter}`);

let uploaded = 0;
let readBack = 0;
const queueProto = Object.getPrototypeOf(await queueOf()) as { writeBuffer: (...a: unknown[]) => unknown };
const bufferProto = (globalThis as unknown as { GPUBuffer: { prototype: { mapAsync: (...a: unknown[]) => unknown } } }).GPUBuffer.prototype;
const writeBuffer = queueProto.writeBuffer;
queueProto.writeBuffer = function (this: unknown, ...a: unknown[]) {
  const data = a[2] as ArrayBufferView;
  const unit = data instanceof Uint32Array ? 4 : 1;
  const size = a[4] === undefined ? data.byteLength - Number(a[3] ?? 0) * unit : Number(a[4]) * unit;
  uploaded += size;
  return writeBuffer.apply(this, a);
};
const mapAsync = bufferProto.mapAsync;
bufferProto.mapAsync = function (this: { size: number }, ...a: unknown[]) {
  readBack += a[2] === undefined ? this.size - Number(a[1] ?? 0) : Number(a[2]);
  return mapAsync.apply(this, a);
};

async function queueOf(): Promise<object> {
  // The router's device, reached the way a test reaches it: through its private field.
  const gpu = await (moe as unknown as { gpu: Promise<{ ctx: { device: { queue: object } } }> }).gpu;
  return gpu.ctx.device.queue;
}

const all = corpus();
const batches = slices(all);
const records = all.offsets.length - 1;
console.log(`corpus: ${(all.bytes.length / 1e6).toFixed(1)} MB, ${records} lines (${(all.bytes.length / records).toFixed(1)} B/line), ${batches.length} batches of ${perBatch}, ${inFlight} in flight`);

const sums = new Map<string, number>();
const results: BatchRouting[] = new Array<BatchRouting>(batches.length);
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const pending: Promise<void>[] = [];
for (let k = 0; k < batches.length; k++) {
  if (pending.length >= inFlight) await pending.shift();
  pending.push(
    moe.routeBatch(batches[k], { backend: 'gpu' }).then((r) => {
      results[k] = r;
      for (const [name, v] of Object.entries(r.timings)) if (typeof v === 'number') sums.set(name, (sums.get(name) ?? 0) + v);
    }),
  );
}
await Promise.all(pending);
const wallMs = performance.now() - t0;
const cpu1 = process.cpuUsage(cpu0);

for (let k = 0; k < batches.length; k++) {
  const cpu = await moe.routeBatch(batches[k], { backend: 'cpu' });
  const g = results[k];
  for (let i = 0; i < cpu.count; i++) {
    if (g.scoresQ16[i] !== cpu.scoresQ16[i] || g.experts[i] !== cpu.experts[i] || g.confidenceQ16[i] !== cpu.confidenceQ16[i]) {
      throw new Error(`batch ${k} record ${i}: GPU and CPU differ`);
    }
  }
}
console.log('exact: every record matches the CPU reference');
console.log(`wall: ${wallMs.toFixed(0)} ms, ${(all.bytes.length / 1e6 / (wallMs / 1000)).toFixed(1)} MB/s`);
// CPU time of the whole process (llvmpipe's threads included): steadier than wall time on a shared machine.
console.log(`process CPU: ${((cpu1.user + cpu1.system) / 1000).toFixed(0)} ms`);
console.log(`uploaded: ${uploaded} B (${(uploaded / records).toFixed(2)} B/record, ${((uploaded - all.bytes.length) / records).toFixed(2)} B/record beyond the text)`);
console.log(`read back: ${readBack} B (${(readBack / records).toFixed(2)} B/record)`);
for (const [name, v] of sums) console.log(`timings.${name}: ${v.toFixed(0)}`);
await moe.dispose();
