/**
 * Microbenchmark of the CPU routing kernels and of the output formatters, in
 * one process on one core: the readable reference vs the fused JavaScript
 * kernel vs the fused WebAssembly kernel, and RecordFormatter (a string per
 * record, then UTF-8) vs ByteFormatter (bytes into a reused buffer). Every
 * result is checked for exactness before any figure is printed.
 * Run: npm run bench:kernel (BENCH_QUICK=1 for a short run).
 */
import os from 'node:os';
import { Bench } from 'tinybench';
import { JsKernel } from '../src/backends/cpu/js-kernel.js';
import type { FastKernel, RouteOutput } from '../src/backends/cpu/kernel-tables.js';
import { WasmKernel } from '../src/backends/cpu/wasm-kernel.js';
import { scoreStatistics } from '../src/backends/cpu-reference/score.js';
import { computeStatistics } from '../src/backends/cpu-reference/statistics.js';
import type { PackedBatch } from '../src/model/packed-batch.js';
import { resolveRouterConfig } from '../src/model/router-config.js';
import { ByteFormatter, ByteOutput } from '../src/sinks/byte-formatter.js';
import { RecordFormatter, recordText, type FormatOptions } from '../src/sinks/output-format.js';
import { oneLongString, realTextAndCode, type Corpus } from './corpora.js';

const quick = process.env.BENCH_QUICK === '1';
const config = resolveRouterConfig();
const real = realTextAndCode();
const corpora: Corpus[] = [
  { name: `short lines (${real.name})`, batch: real.batch },
  oneLongString((quick ? 8 : 32) * 2 ** 20),
];

const count = (b: PackedBatch): number => b.offsets.length - 1;
const outFor = (n: number): RouteOutput => ({ experts: new Uint32Array(n), scoresQ16: new Uint32Array(n), confidenceQ16: new Uint32Array(n) });
const reference = (b: PackedBatch): RouteOutput => scoreStatistics(config, computeStatistics(b.bytes, b.offsets), count(b));
const kernels: FastKernel[] = [new JsKernel(), new WasmKernel()];

// ---- exactness first ----
for (const c of corpora) {
  const want = reference(c.batch);
  for (const k of kernels) {
    const got = outFor(count(c.batch));
    k.routeInto(c.batch.bytes, c.batch.offsets, count(c.batch), config, got);
    for (const key of ['experts', 'scoresQ16', 'confidenceQ16'] as const) {
      for (let i = 0; i < want[key].length; i++) {
        if (got[key][i] !== want[key][i]) throw new Error(`${k.kind} kernel differs from the reference on ${c.name}: ${key}[${i}]`);
      }
    }
  }
}

const lines = corpora[0].batch;
const routed = reference(lines);
const FORMATS: [string, FormatOptions][] = [
  ['jsonl', { format: 'jsonl', includeText: false, errorColumn: false }],
  ['jsonl --include-text', { format: 'jsonl', includeText: true, errorColumn: false }],
  ['csv --include-text', { format: 'csv', includeText: true, errorColumn: false }],
];

/** What the CLI does today: a string per record, joined per slice, then encoded. */
function formatWithStrings(options: FormatOptions, sink: (b: Buffer) => void): void {
  const f = new RecordFormatter(options);
  const { bytes, offsets } = lines;
  let out = f.header();
  for (let i = 0; i < count(lines); i++) {
    const text = options.includeText ? recordText(bytes.subarray(offsets[i], offsets[i + 1])) : undefined;
    out += f.record(i, routed.experts[i], routed.scoresQ16[i], routed.confidenceQ16[i], text);
    if ((i & 4095) === 4095) {
      sink(Buffer.from(out, 'utf8'));
      out = '';
    }
  }
  sink(Buffer.from(out, 'utf8'));
}

function formatAsBytes(options: FormatOptions, sink: (b: Uint8Array) => void): void {
  const f = new ByteFormatter(options);
  const out = new ByteOutput(sink, 1 << 20);
  const { bytes, offsets } = lines;
  f.header(out);
  for (let i = 0; i < count(lines); i++) {
    f.record(out, i, routed.experts[i], routed.scoresQ16[i], routed.confidenceQ16[i], bytes, offsets[i], offsets[i + 1]);
  }
  out.flush();
}

for (const [label, options] of FORMATS) {
  const a: Buffer[] = [];
  const b: Buffer[] = [];
  formatWithStrings(options, (x) => a.push(x));
  formatAsBytes(options, (x) => b.push(Buffer.from(x)));
  if (!Buffer.concat(a).equals(Buffer.concat(b))) throw new Error(`ByteFormatter output differs from RecordFormatter's for ${label}`);
}
console.log('exactness: reference, js and wasm kernels agree on every record; both formatters give identical bytes\n');

// ---- timings ----
const bench = new Bench({ time: quick ? 300 : 2000, iterations: quick ? 2 : 5, warmupIterations: 1 });
const tasks = new Map<string, () => void>();
for (const c of corpora) {
  const out = outFor(count(c.batch));
  tasks.set(`kernel | reference | ${c.name}`, () => {
    reference(c.batch);
  });
  for (const k of kernels) {
    tasks.set(`kernel | ${k.kind} | ${c.name}`, () => {
      k.routeInto(c.batch.bytes, c.batch.offsets, count(c.batch), config, out);
    });
  }
}
let sunk = 0;
for (const [label, options] of FORMATS) {
  tasks.set(`format | RecordFormatter | ${label}`, () => formatWithStrings(options, (x) => (sunk += x.length)));
  tasks.set(`format | ByteFormatter | ${label}`, () => formatAsBytes(options, (x) => (sunk += x.length)));
}
for (const [name, fn] of tasks) bench.add(name, fn);
await bench.run();

/** Least CPU time of a few runs: on a shared machine, wall time also counts the time other processes held the core. */
function leastCpuMs(fn: () => void): number {
  let best = Infinity;
  for (let i = 0; i < (quick ? 2 : 5); i++) {
    const before = process.cpuUsage();
    fn();
    const used = process.cpuUsage(before);
    best = Math.min(best, (used.user + used.system) / 1000);
  }
  return best;
}

console.log(
  `machine: ${os.cpus()[0]?.model ?? 'unknown CPU'} x ${os.cpus().length}, load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}, Node ${process.version}`,
);
console.log(`short lines: ${count(lines)} lines, ${(lines.bytes.length / 1e6).toFixed(1)} MB, ${(lines.bytes.length / count(lines)).toFixed(1)} B per line on average`);
console.log('MB/s are input bytes (the records routed or formatted) per second, one core: by wall time (tinybench mean) and by CPU time (least of a few runs).\n');
const rows = bench.tasks.map((t) => {
  const [stage, impl, what] = t.name.split(' | ');
  const input = stage === 'kernel' ? corpora.find((c) => c.name === what)!.batch : lines;
  const r = t.result;
  const ms = r && 'latency' in r ? r.latency.mean : NaN;
  const cpuMs = leastCpuMs(tasks.get(t.name)!);
  const mbps = (x: number): number => +(input.bytes.length / 1e6 / (x / 1000)).toFixed(0);
  return { stage, implementation: impl, input: what, 'wall ms': +ms.toFixed(1), 'MB/s': mbps(ms), 'cpu ms': +cpuMs.toFixed(1), 'MB/s (cpu)': mbps(cpuMs) };
});
console.table(rows);
if (sunk === 0) throw new Error('nothing was formatted');
