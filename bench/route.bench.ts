/**
 * GPU vs CPU routing throughput, measured with tinybench in one process so
 * the ratio compares like with like. Prints the machine, the adapter, MB/s and
 * the GPU/CPU ratio per corpus. Run: npm run bench
 * (BENCH_QUICK=1 for a short run.)
 */
import os from 'node:os';
import { Bench } from 'tinybench';
import { SwitchedMoE, type PackedBatch } from '../src/index.js';
import { longAmongShort, oneLongString, realTextAndCode, shortStrings, type Corpus } from './corpora.js';

const quick = process.env.BENCH_QUICK === '1';
const corpora: Corpus[] = [
  shortStrings(quick ? 50_000 : 500_000),
  realTextAndCode(),
  oneLongString((quick ? 8 : 64) * 2 ** 20),
  longAmongShort((quick ? 4 : 32) * 2 ** 20, quick ? 20_000 : 200_000),
];

const moe = new SwitchedMoE({ backend: 'gpu' });
let adapter = '(none)';
try {
  adapter = (await moe.routeBatch(['warm up'])).adapter;
} catch (err) {
  console.error(`GPU unavailable, benchmarking the CPU only: ${(err as Error).message}`);
}
const gpuOk = adapter !== '(none)';

console.log(`machine: ${os.cpus()[0]?.model ?? 'unknown CPU'} x ${os.cpus().length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${process.platform} ${process.arch}, Node ${process.version}`);
console.log(`adapter: ${adapter}\n`);

const bench = new Bench({ time: quick ? 500 : 3000, iterations: quick ? 2 : 5, warmupIterations: 1 });
const mb = (b: PackedBatch): number => b.bytes.length / 1e6;
for (const c of corpora) {
  bench.add(`cpu | ${c.name}`, async () => {
    await moe.routeBatch(c.batch, { backend: 'cpu' });
  });
  if (gpuOk) {
    bench.add(`gpu | ${c.name}`, async () => {
      await moe.routeBatch(c.batch, { backend: 'gpu' });
    });
  }
}
await bench.run();

const rows = [];
for (const c of corpora) {
  const meanMs = (backend: string): number | null => {
    const r = bench.getTask(`${backend} | ${c.name}`)?.result;
    return r && 'latency' in r ? r.latency.mean : null;
  };
  const cpu = meanMs('cpu');
  const gpu = meanMs('gpu');
  rows.push({
    corpus: c.name,
    MB: +mb(c.batch).toFixed(1),
    strings: c.batch.offsets.length - 1,
    'cpu ms': cpu && +cpu.toFixed(1),
    'cpu MB/s': cpu && +(mb(c.batch) / (cpu / 1000)).toFixed(1),
    'gpu ms': gpu && +gpu.toFixed(1),
    'gpu MB/s': gpu && +(mb(c.batch) / (gpu / 1000)).toFixed(1),
    'gpu/cpu speed': cpu && gpu ? +(cpu / gpu).toFixed(2) : null,
  });
}
console.table(rows);
await moe.dispose();
