/**
 * `moe-router route [INPUT|-]`: routes every record of a corpus, streaming.
 * Every input record gives exactly one output record, in input order.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import { SwitchedMoE, type Backend, type BatchRouting } from '../router/switched-moe.js';
import { AtomicFile } from '../sinks/atomic-file.js';
import { StreamSink } from '../sinks/stdout-sink.js';
import { RecordFormatter, type OutputFormat } from '../sinks/output-format.js';
import type { RecordBatch } from '../sources/record-reader.js';
import { parseShard } from '../sources/shard-range.js';
import { routePackedBatches, type PipelineState } from '../job/batch-pipeline.js';
import { ioError, warn } from './cli-errors.js';
import { openRecordSource, type SourceFormat } from './record-source.js';
import { openBatchSinks, type BatchSinks } from './format-sinks.js';
import { routerOptions, type RouterCliOptions } from './options.js';
import { Progress } from './progress.js';
import { shares, type RunStats } from '../job/run-stats.js';
import { formatSummary } from './summary.js';

export interface RouteCommandOptions extends RouterCliOptions {
  format?: SourceFormat;
  field?: string;
  backend?: Backend;
  out?: string;
  outputFormat?: OutputFormat | 'parquet';
  includeText?: boolean;
  shards?: string;
  shard?: string;
  batchBytes: number;
  batchRecords: number;
  onError: 'fail' | 'skip';
  stats?: string;
  quiet?: boolean;
  progress?: boolean;
}

/** Hidden test hook: lose the GPU device after N GPU batches (needs SwitchedMoE.loseDeviceForTesting). */
export const LOSE_DEVICE_ENV = 'MOE_ROUTER_TEST_LOSE_DEVICE_AFTER_BATCHES';

interface Output {
  write(text: string): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

function outputFor(path: string | undefined, file: AtomicFile | null): Output {
  if (file) {
    return {
      write: (t) => file.write(t).catch((err: unknown) => Promise.reject(ioError('write output', file.path, err))),
      commit: () => file.commit().catch((err: unknown) => Promise.reject(ioError('write output', file.path, err))),
      abort: () => file.abort(),
    };
  }
  const sink = new StreamSink(process.stdout);
  return {
    write: (t) => sink.write(t).catch((err: unknown) => Promise.reject(ioError('write output', path === undefined || path === '-' ? 'stdout' : path, err))),
    commit: () => sink.flush().catch((err: unknown) => Promise.reject(ioError('write output', 'stdout', err))),
    abort: () => sink.flush().catch(() => undefined),
  };
}

const SHARD_EXT: Record<SourceFormat, string> = { lines: 'txt', jsonl: 'jsonl', csv: 'csv', tsv: 'tsv', parquet: 'parquet', arrow: 'arrow' };

export async function runRoute(input: string | undefined, o: RouteCommandOptions): Promise<number> {
  const t0 = performance.now();
  const shardSpec = o.shard !== undefined ? parseShard(o.shard) : undefined;
  const routerOpts = await routerOptions(o);
  // formats: text, gzip/zstd text, Parquet or Arrow IPC, by the input's first bytes
  const opened = await openRecordSource(input, o, shardSpec, o.shards !== undefined);
  const format = opened.format;
  const outputFormat: OutputFormat = o.outputFormat === 'parquet' ? 'jsonl' : (o.outputFormat ?? 'jsonl');

  const toClose: Output[] = [];
  const shardFiles: AtomicFile[] = [];
  let statsFile: AtomicFile | null = null;
  let moe: SwitchedMoE | null = null;
  let sinks: BatchSinks | null = null;
  const progress = Progress.create(!o.quiet && o.progress !== false, opened.size);
  try {
    let outFile: AtomicFile | null = null;
    if (o.out !== undefined && o.out !== '-' && o.outputFormat !== 'parquet') {
      try {
        outFile = await AtomicFile.open(o.out);
      } catch (err) {
        throw ioError('write output', o.out, err);
      }
    }
    const out = outputFor(o.out, outFile);
    toClose.push(out);
    moe = new SwitchedMoE({ ...routerOpts, ...(o.backend ? { backend: o.backend } : {}), onWarning: warn });
    const numExperts = moe.numExperts;
    // formats: Parquet output and Parquet shards are written by their own sinks
    sinks = await openBatchSinks(o, opened, numExperts);
    if (o.shards !== undefined && !sinks.shards) {
      const dir = o.shards;
      try {
        await mkdir(dir, { recursive: true });
        for (let e = 0; e < numExperts; e++) shardFiles.push(await AtomicFile.open(join(dir, `expert-${e}.${SHARD_EXT[format]}`)));
      } catch (err) {
        throw ioError('write shards in', dir, err);
      }
    }
    if (o.stats !== undefined) {
      try {
        statsFile = await AtomicFile.open(o.stats);
      } catch (err) {
        throw ioError('write stats', o.stats, err);
      }
    }

    const formatter = new RecordFormatter({ format: outputFormat, includeText: o.includeText ?? false, errorColumn: o.onError === 'skip' });
    const header = formatter.header();
    if (header) await out.write(header);

    const perExpert = new Array<number>(numExperts).fill(0);
    let recordsIn = 0;
    let recordsOut = 0;
    let errors = 0;
    let bytes = 0;
    const backends = new Set<string>();
    const adapters = new Set<string>();
    const state: PipelineState = { cpuFallbackBatches: 0, deviceLost: false };
    const loseAfter = Number(process.env[LOSE_DEVICE_ENV] ?? '0');
    const shardHeaderWritten = new Array<boolean>(numExperts).fill(false);
    const writeShardHeaders = async (): Promise<void> => {
      const headerRaw = opened.headerRaw();
      if (!headerRaw) return;
      for (let e = 0; e < numExperts; e++) {
        if (shardHeaderWritten[e]) continue;
        shardHeaderWritten[e] = true;
        await shardFiles[e].write(Buffer.concat([headerRaw, Buffer.from('\n')]));
      }
    };

    const stats = (complete: boolean): RunStats => {
      const routed = perExpert.reduce((a, b) => a + b, 0);
      const seconds = (performance.now() - t0) / 1000;
      return {
        version: 1,
        input: opened.name,
        format,
        recordsIn,
        recordsOut,
        routed,
        errors,
        bytes,
        numExperts,
        boundaries: [...moe!.config.boundaries],
        perExpert,
        shares: shares(perExpert, routed),
        backend: backends.size ? [...backends].join('+') : o.backend === 'cpu' ? 'cpu' : 'none',
        adapter: adapters.size ? [...adapters].join('; ') : '(nothing routed)',
        cpuFallbackBatches: state.cpuFallbackBatches,
        seconds,
        mbPerSecond: seconds > 0 ? bytes / 1e6 / seconds : 0,
        maxRssBytes: process.resourceUsage().maxRSS * 1024,
        complete,
        ...(opened.shard && shardSpec ? { shard: { index: shardSpec.index, count: shardSpec.count, ...opened.shard } } : {}),
      };
    };

    const batches = routePackedBatches(moe, opened.batches, {
      ...(o.backend ? { backend: o.backend } : {}),
      onWarning: warn,
      ...(loseAfter > 0
        ? {
            afterGpuBatch: async (done: number) => {
              if (done !== loseAfter || !moe) return;
              await moe.loseDeviceForTesting();
            },
          }
        : {}),
    }, state);

    let failure: InputError | null = null;
    for await (const { batch, routing } of batches) {
      bytes += batch.inputBytes;
      if (routing) {
        backends.add(routing.backend);
        adapters.add(routing.adapter);
      }
      const upTo = o.onError === 'fail' && batch.errors.length > 0 ? batch.errors[0].local : batch.count;
      // rendered in slices so the temporary strings die young (peak memory stays low)
      if (sinks.output || sinks.shards) await sinks.write(batch, routing, upTo, perExpert);
      if (!sinks.output) for (let from = 0; from < upTo; from += RENDER_SLICE) {
        await out.write(renderBatch(batch, routing, formatter, from, Math.min(upTo, from + RENDER_SLICE), perExpert, o.includeText ?? false));
      }
      if (shardFiles.length > 0) {
        await writeShardHeaders();
        await writeShards(batch, routing, format, shardFiles, upTo);
      }
      errors += batch.errors.filter((e) => e.local < upTo).length;
      recordsOut += upTo;
      recordsIn += upTo;
      if (upTo < batch.count) {
        // the bad record was read but stops the run: not written
        recordsIn++;
        const e = batch.errors[0];
        errors++;
        failure = new InputError(opened.name, e.line, `${e.message} (record ${batch.firstIndex + e.local}; --on-error skip writes an error record and goes on)`);
        break;
      }
      progress?.update(bytes, recordsIn);
    }
    progress?.done();
    if (failure) {
      if (!o.quiet) process.stderr.write(formatSummary(stats(false)));
      throw failure;
    }
    if (shardFiles.length > 0) await writeShardHeaders();
    await out.commit();
    await sinks.commit();
    toClose.length = 0;
    for (const f of shardFiles) await f.commit().catch((err: unknown) => Promise.reject(ioError('write shard', f.path, err)));
    shardFiles.length = 0;
    const final = stats(true);
    if (statsFile) {
      await statsFile.write(JSON.stringify(final, null, 2) + '\n');
      await statsFile.commit().catch((err: unknown) => Promise.reject(ioError('write stats', o.stats ?? '', err)));
      statsFile = null;
    }
    if (!o.quiet) process.stderr.write(formatSummary(final));
    return 0;
  } finally {
    progress?.done();
    for (const c of toClose) await c.abort();
    for (const f of shardFiles) await f.abort();
    if (statsFile) await statsFile.abort();
    await sinks?.abort();
    if (moe) await moe.dispose();
  }
}

const decoder = new TextDecoder();

function textOf(batch: RecordBatch, i: number): string {
  const { bytes, offsets } = batch.text;
  return decoder.decode(bytes.subarray(offsets[i], offsets[i + 1]));
}

const RENDER_SLICE = 4096;

function renderBatch(
  batch: RecordBatch,
  routing: BatchRouting | null,
  f: RecordFormatter,
  from: number,
  upTo: number,
  perExpert: number[],
  includeText: boolean,
): string {
  let out = '';
  let nextErr = 0;
  while (nextErr < batch.errors.length && batch.errors[nextErr].local < from) nextErr++;
  for (let i = from; i < upTo; i++) {
    const index = batch.firstIndex + i;
    if (nextErr < batch.errors.length && batch.errors[nextErr].local === i) {
      out += f.error(index, `line ${batch.errors[nextErr].line}: ${batch.errors[nextErr].message}`);
      nextErr++;
      continue;
    }
    if (!routing) throw new Error('a batch with records was not routed');
    const expert = routing.experts[i];
    perExpert[expert]++;
    out += f.record(index, expert, routing.scoresQ16[i], routing.confidenceQ16[i], includeText ? textOf(batch, i) : undefined);
  }
  return out;
}

/** Appends each routed record, unchanged, to its expert's file (error records are not written). */
async function writeShards(batch: RecordBatch, routing: BatchRouting | null, format: SourceFormat, files: AtomicFile[], upTo: number): Promise<void> {
  if (!routing) return;
  const src = format === 'lines' ? batch.text : (batch.raw ?? batch.text);
  const n = files.length;
  const sizes = new Array<number>(n).fill(0);
  const isErr = new Uint8Array(upTo);
  for (const e of batch.errors) if (e.local < upTo) isErr[e.local] = 1;
  for (let i = 0; i < upTo; i++) {
    if (isErr[i]) continue;
    sizes[routing.experts[i]] += src.offsets[i + 1] - src.offsets[i] + 1;
  }
  const bufs = sizes.map((s) => Buffer.allocUnsafe(s));
  const at = new Array<number>(n).fill(0);
  for (let i = 0; i < upTo; i++) {
    if (isErr[i]) continue;
    const e = routing.experts[i];
    const s = src.offsets[i];
    const len = src.offsets[i + 1] - s;
    bufs[e].set(src.bytes.subarray(s, s + len), at[e]);
    at[e] += len;
    bufs[e][at[e]++] = 10;
  }
  for (let e = 0; e < n; e++) if (sizes[e] > 0) await files[e].write(bufs[e]);
}

