/**
 * The issue's Targets table, measured: `moe-router route FILE --out /dev/null`
 * end to end (default, --threads 1, --include-text, --backend gpu) beside
 * `wc -l` on the same file, the GPU's routeBatch rate on pre-packed batches
 * (the end-to-end GPU run must reach 80% of it), and the peak RSS of routing
 * a large file. The corpus is real short lines (bench/real-corpus.ts).
 *
 *   npm run bench:targets                      400 MB corpus, 2 GB for peak RSS
 *   npm run bench:targets -- --mb 40 --rss-mb 200 --markdown
 *
 * Options: --mb N (corpus size, default 400), --rss-mb N (file for peak RSS,
 * default 2048; 0 skips it), --repeat N (timed runs, median; default 1),
 * --markdown (the table as Markdown), --json. Exactness of these same
 * configurations is what `moe-router bench FILE` checks.
 */
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SwitchedMoE, type PackedBatch } from '../src/index.js';
import { RecordReader } from '../src/sources/record-reader.js';
import { defaultCliPath, timeCli, timeWc, type CliRun } from '../src/bench/cli-runs.js';
import { mbps } from '../src/bench/report.js';
import { writeRealCorpus } from './real-corpus.js';

const { values } = parseArgs({
  options: {
    mb: { type: 'string', default: process.env.TARGET_MB ?? '400' },
    'rss-mb': { type: 'string', default: process.env.RSS_MB ?? '2048' },
    repeat: { type: 'string', default: '1' },
    markdown: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const sizeMb = Number(values.mb);
const rssMb = Number(values['rss-mb']);
const repeat = Math.max(1, Number(values.repeat));
const log = (s: string): void => void process.stderr.write(`targets: ${s}\n`);
const cli = defaultCliPath();

/** The file's records packed as the route job packs them (8 MiB / 65536 records per batch), then routed back to back on the GPU. */
async function gpuPackedRate(path: string, fileBytes: number): Promise<{ mbPerSecond: number; seconds: number; adapter: string } | { error: string }> {
  const reader = new RecordReader({ format: 'lines', file: path, batchBytes: 8 << 20, batchRecords: 65536, keepRaw: false });
  const batches: PackedBatch[] = [];
  for await (const b of reader.batches(createReadStream(path, { highWaterMark: 1 << 20 }))) batches.push(b.text);
  const moe = new SwitchedMoE({ backend: 'gpu' });
  try {
    const warm = await moe.routeBatch(batches[0], { backend: 'gpu' });
    const t0 = performance.now();
    for (const b of batches) await moe.routeBatch(b, { backend: 'gpu' });
    const seconds = (performance.now() - t0) / 1000;
    return { mbPerSecond: fileBytes / 1e6 / seconds, seconds, adapter: warm.adapter };
  } catch (err) {
    return { error: (err as Error).message };
  } finally {
    await moe.dispose();
  }
}

interface Row {
  measure: string;
  target: string;
  measured: string;
  wc: string;
  met: boolean | null;
}

const tmp = mkdtempSync(join(os.tmpdir(), 'moe-targets-'));
try {
  const file = join(tmp, 'real-lines.txt');
  const corpus = writeRealCorpus(file, Math.round(sizeMb * 1e6));
  log(`corpus: ${corpus.lines} real short lines, ${(corpus.bytes / 1e6).toFixed(0)} MB, ${(corpus.bytes / corpus.lines).toFixed(1)} B per line`);
  const input = { path: file, format: 'lines' };
  const name = `${(corpus.bytes / 1e6).toFixed(0)} MB of real short lines`;
  const load0 = os.loadavg()[0];

  const wc = await timeWc(file, corpus.bytes, name, repeat);
  const run = async (label: string, args: string[]): Promise<CliRun> => {
    log(`route ${label}`);
    return timeCli(cli, input, name, { label, args }, repeat, tmp);
  };
  const runs = {
    default: await run('default', []),
    threads1: await run('--threads 1', ['--threads', '1']),
    includeText: await run('--include-text', ['--include-text']),
  };
  let gpu: CliRun | null = null;
  try {
    gpu = await run('--backend gpu', ['--backend', 'gpu']);
  } catch (err) {
    log(`no GPU run: ${(err as Error).message}`);
  }
  log('GPU routeBatch on pre-packed batches');
  const packed = gpu ? await gpuPackedRate(file, corpus.bytes) : { error: 'no GPU' };
  const wcAfter = await timeWc(file, corpus.bytes, name, repeat);

  const rss: CliRun[] = [];
  if (rssMb > 0) {
    const big = join(tmp, 'large.txt');
    rmSync(file, { force: true });
    const b = writeRealCorpus(big, Math.round(rssMb * 1e6));
    log(`peak RSS on ${(b.bytes / 1e6).toFixed(0)} MB`);
    const bigInput = { path: big, format: 'lines' };
    rss.push(await timeCli(cli, bigInput, 'large', { label: 'default', args: [] }, 1, tmp));
    if (gpu) rss.push(await timeCli(cli, bigInput, 'large', { label: '--backend gpu', args: ['--backend', 'gpu'] }, 1, tmp));
  }

  const wcText = (): string => (wc ? `${mbps(wc.mbPerSecond)}${wcAfter ? ` / ${mbps(wcAfter.mbPerSecond)}` : ''}` : '–');
  const e2e = (r: CliRun, target: number, measure: string): Row => ({
    measure, target: `≥ ${target.toLocaleString('en-US')} MB/s`, measured: `${mbps(r.mbPerSecond)} MB/s (peak RSS ${(r.maxRssBytes / 2 ** 20).toFixed(0)} MiB)`, wc: wcText(), met: r.mbPerSecond >= target,
  });
  const rows: Row[] = [
    e2e(runs.default, 1000, '`moe-router route FILE` end to end'),
    e2e(runs.threads1, 400, '`--threads 1`'),
    e2e(runs.includeText, 500, '`--include-text`'),
  ];
  if (gpu && 'mbPerSecond' in packed) {
    const ratio = gpu.mbPerSecond / packed.mbPerSecond;
    rows.push({
      measure: '`--backend gpu` end to end / routeBatch on pre-packed batches',
      target: '≥ 80%',
      measured: `${(ratio * 100).toFixed(0)}% (${mbps(gpu.mbPerSecond)} of ${mbps(packed.mbPerSecond)} MB/s)`,
      wc: wcText(),
      met: ratio >= 0.8,
    });
  } else {
    rows.push({ measure: '`--backend gpu` end to end / routeBatch on pre-packed batches', target: '≥ 80%', measured: `not measured: ${'error' in packed ? packed.error : ''}`, wc: wcText(), met: null });
  }
  for (const r of rss) {
    rows.push({
      measure: `peak RSS routing ${(r.bytes / 1e6).toFixed(0)} MB, ${r.label}`,
      target: '≤ 300 MB',
      measured: `${(r.maxRssBytes / 1e6).toFixed(0)} MB (${mbps(r.mbPerSecond)} MB/s)`,
      wc: '–',
      met: r.maxRssBytes <= 300e6,
    });
  }

  const machine = `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}; GPU: ${gpu ? ('adapter' in packed ? packed.adapter : gpu.backend) : 'none'}; load average ${load0.toFixed(2)} at the start, ${os.loadavg()[0].toFixed(2)} at the end`;
  if (values.json) {
    process.stdout.write(JSON.stringify({ machine, corpus: { ...corpus, sizeMb }, wc: [wc, wcAfter], runs, gpu, packed, rss, rows }, null, 2) + '\n');
  } else {
    const md = values.markdown;
    process.stdout.write(`${md ? '' : 'targets\n'}machine: ${machine}\ncorpus: ${name}, ${corpus.lines.toLocaleString('en-US')} lines; wc -l MB/s measured before / after the routes, in the same script\n\n`);
    const headers = ['measure', 'target', 'measured', 'wc -l MB/s', 'met'];
    const cells = rows.map((r) => [r.measure, r.target, r.measured, r.wc, r.met === null ? '–' : r.met ? 'yes' : 'no']);
    if (md) {
      process.stdout.write(`| ${headers.join(' | ')} |\n| ${headers.map(() => '---').join(' | ')} |\n${cells.map((c) => `| ${c.join(' | ')} |`).join('\n')}\n`);
    } else {
      const w = headers.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
      for (const line of [headers, w.map((x) => '-'.repeat(x)), ...cells]) process.stdout.write(line.map((c, i) => c.padEnd(w[i])).join('  ').trimEnd() + '\n');
    }
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
