/**
 * `moe-router route [INPUT|-]`: options in, a route job, an exit code.
 * The work (reading, routing, writing, fallback) is the job's (src/job/route-job.ts).
 */
import { mkdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { SwitchedMoE, type Backend } from '../router/switched-moe.js';
import { OutputSet, OutputPathError, inputIdentity, stdinIdentity, type InputIdentity } from '../sinks/output-set.js';
import { BrokenPipeError, StreamSink } from '../sinks/stdout-sink.js';
import type { OutputFormat } from '../sinks/output-format.js';
import type { OutputSpec } from '../sinks/batch-formatter.js';
import type { ByteWriter } from '../sinks/byte-writer.js';
import { DEFAULT_MAX_RECORD_BYTES } from '../sources/record-reader.js';
import { parseShard } from '../sources/shard-range.js';
import { inProcessBatches, routeChunksWith, routeInPieces, routeWithFallback, runRouteJob, type FallbackState, type JobSinks, type RowSink } from '../job/route-job.js';
import { parallelBatches } from '../job/parallel/worker-pool.js';
import { takePrestarted } from '../job/parallel/warm-workers.js';
import { fileLineChunks, packedLineBatches, streamLineChunks } from '../sources/packed-lines.js';
import type { FormattedBatch } from '../job/formatted-batch.js';
import type { RouteJobListener } from '../job/events.js';
import type { RunStats } from '../job/run-stats.js';
import { CliError, ioError, ioMessage, warn } from './cli-errors.js';
import { firstRecordIndex } from './input.js';
import { openRecordSource, type RecordSource, type SourceFormat } from './record-source.js';
import { parquetOutputSink, parquetShardSink } from './format-sinks.js';
import { routerOptions, type RouterCliOptions } from './options.js';
import { Progress } from './progress.js';
import { stdoutWasClosed } from './stdio.js';
import { formatSummary } from './summary.js';
import { fingerprintInput } from '../job/input-fingerprint.js';
import type { RouteMonitor } from './dashboard-monitor.js';
import { dashboardOutputs, wantsMonitor, type DashboardCliOptions } from './dashboard-options.js';
import { hadoopCountersListener } from './hadoop-counters.js';
import { loadExpertModels } from './models-config.js';
import { CostMeter } from '../job/cost-stats.js';

export interface RouteCommandOptions extends RouterCliOptions, DashboardCliOptions {
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
  threads?: number;
  maxRecordBytes?: number;
  hadoopCounters?: boolean;
  explain?: boolean;
}

/** Hidden test hook: lose the GPU device after N GPU batches (needs SwitchedMoE.loseDeviceForTesting). */
export const LOSE_DEVICE_ENV = 'MOE_ROUTER_TEST_LOSE_DEVICE_AFTER_BATCHES';
/** Tests send the software adapter's work through the workers, as on a hardware GPU, with this set to 1. */
export const GPU_WORKERS_ENV = 'MOE_ROUTER_TEST_GPU_WORKERS';
/** Tests force tiny chunks (records straddling every boundary) through this; users have --batch-bytes. */
export const CHUNK_BYTES_ENV = 'MOE_ROUTER_TEST_CHUNK_BYTES';

const SHARD_EXT: Record<SourceFormat, string> = { lines: 'txt', jsonl: 'jsonl', csv: 'csv', tsv: 'tsv', parquet: 'parquet', arrow: 'arrow' };

const toStdout = (o: RouteCommandOptions): boolean => o.out === undefined || o.out === '-';

/** Every file the run will write, with the label its messages use. */
function plannedOutputs(o: RouteCommandOptions, numExperts: number, format: SourceFormat): { label: string; path: string }[] {
  const outputs: { label: string; path: string }[] = [];
  if (!toStdout(o)) outputs.push({ label: 'output', path: o.out as string });
  if (o.stats !== undefined) outputs.push({ label: 'stats file', path: o.stats });
  if (o.shards !== undefined) {
    for (let e = 0; e < numExperts; e++) outputs.push({ label: 'shard file', path: join(o.shards, `expert-${e}.${SHARD_EXT[format]}`) });
  }
  outputs.push(...dashboardOutputs(o)); // --report, --snapshot: last
  return outputs;
}

/** Wraps a writer so that its failures name the file ("cannot write shard x: no space left on device", exit 2). */
function named(writer: ByteWriter, what: string, path: string): ByteWriter {
  return { write: (d) => writer.write(d).catch((err: unknown) => Promise.reject(err instanceof BrokenPipeError ? err : ioError(what, path, err))) };
}

export async function runRoute(input: string | undefined, o: RouteCommandOptions): Promise<number> {
  const parquetOut = o.outputFormat === 'parquet';
  if (parquetOut && toStdout(o)) throw new CliError('--output-format parquet writes a file: give --out FILE.parquet');
  const outputFormat: OutputFormat = o.outputFormat === undefined || o.outputFormat === 'parquet' ? 'jsonl' : o.outputFormat;
  const shardSpec = o.shard !== undefined ? parseShard(o.shard) : undefined;
  const routerOpts = await routerOptions(o);
  if (toStdout(o) && stdoutWasClosed()) throw new CliError('stdout is closed (or is /dev/null opened read-write, as a closed descriptor or Python\'s subprocess.DEVNULL gives): every record would be lost; give --out FILE, or --out /dev/null to discard the output on purpose');

  // Paths are checked, and every output opened, before the first record is read.
  const moe = new SwitchedMoE({ ...routerOpts, ...(o.backend ? { backend: o.backend } : {}), onWarning: warn });
  // The worker threads the command's entry started for this run, if it guessed it would use them.
  const warm = takePrestarted();
  const threads = o.threads ?? availableParallelism();
  let files: OutputSet | null = null;
  let monitor: RouteMonitor | null = null;
  try {
    const inputs: InputIdentity[] = [];
    const id = input === undefined || input === '-' ? stdinIdentity() : await inputIdentity(input);
    if (id) inputs.push(id);
    if (o.shards !== undefined) {
      await mkdir(o.shards, { recursive: true }).catch((err: unknown) => Promise.reject(ioError('write shards in', o.shards as string, err)));
    }
    // A file's format comes from its first bytes (Parquet shards are .parquet); stdin is opened after the
    // dashboard starts, since a pipe may wait for a viewer, and its format is --format's (or lines).
    const stdinInput = input === undefined || input === '-';
    let source: RecordSource | null = stdinInput ? null : await openRecordSource(input, o, shardSpec, o.shards !== undefined);
    const format: SourceFormat = source?.format ?? o.format ?? 'lines';
    const outputs = plannedOutputs(o, moe.numExperts, format);
    try {
      files = await OutputSet.open(outputs, inputs);
    } catch (err) {
      if (err instanceof OutputPathError) throw new CliError(err.message);
      throw err;
    }
    // The dashboard serves (and prints its URL) before the input is read: a pipe may wait for a viewer.
    const monitorFiles = dashboardOutputs(o).map((_, i, all) => files!.get(outputs.length - all.length + i));
    monitor = wantsMonitor(o) ? await (await import('./dashboard-monitor.js')).RouteMonitor.open(o, monitorFiles) : null;
    const fingerprint = await fingerprintInput(input);
    source ??= await openRecordSource(input, o, shardSpec, o.shards !== undefined);
    const opened = source;
    if (o.shards !== undefined && opened.format === 'arrow') throw new CliError('--shards with Arrow IPC input is not supported: convert it to Parquet, or route it without --shards');

    let at = 0;
    const stdout = toStdout(o) ? new StreamSink(process.stdout) : null;
    const output: ByteWriter = stdout ? named(stdout, 'write output', 'stdout') : named(files.get(at++), 'write output', o.out as string);
    const statsFile = o.stats !== undefined ? files.get(at++) : null;
    const rows: RowSink[] = [];
    if (parquetOut) rows.push(await parquetOutputSink(output, o.includeText ?? false, o.onError === 'skip'));
    const sinks: JobSinks = { output: parquetOut ? null : output, rows };
    if (o.shards !== undefined) {
      const writers = outputs.filter((p) => p.label === 'shard file').map((p) => named(files!.get(at++), 'write shard', p.path));
      // Parquet input: Parquet shards with the input's rows; text: each record's bytes
      if (opened.parquet) rows.push(await parquetShardSink(writers, opened));
      else sinks.shards = { writers, header: () => opened.headerRaw() };
    }
    const spec: OutputSpec = {
      format: outputFormat,
      includeText: o.includeText ?? false,
      errorColumn: o.onError === 'skip',
      shards: o.shards !== undefined && !opened.parquet ? moe.numExperts : 0,
      rawShards: format !== 'lines',
      models: await loadExpertModels(o.config, moe.numExperts),
      explain: o.explain ?? false,
    };
    const costMeter = spec.models ? new CostMeter(spec.models) : null;

    const listeners: RouteJobListener[] = [];
    if (monitor) listeners.push(monitor);
    if (costMeter) listeners.push(costMeter);
    if (o.hadoopCounters) listeners.push(hadoopCountersListener((t) => process.stderr.write(t)));
    const progress = Progress.create(!o.quiet && o.progress !== false, opened.size);
    if (progress) listeners.push({ onBatch: (e) => progress.update(e.totals.bytes, e.totals.recordsIn), onEnd: () => progress.done() });

    const loseAfter = Number(process.env[LOSE_DEVICE_ENV] ?? '0');
    const state: FallbackState = { cpuFallbackBatches: 0, deviceLost: false };
    // lines and jsonl: workers read, parse, route (CPU) and format chunks of whole lines; on a hardware GPU
    // the main thread routes their chunks. csv/tsv (a quoted field may hold an LF, so a chunk cannot be cut
    // at any LF), row sinks (Parquet) and a software GPU adapter: in process.
    const choice = await moe.chooseBackend();
    const text = opened.text;
    // A software adapter's own threads use the cores the workers would: on it, the host work stays in process.
    const gpuInProcess = choice.backend === 'gpu' && process.env[GPU_WORKERS_ENV] !== '1' && (await moe.gpuIsSoftware());
    const parallel = text !== undefined && rows.length === 0 && (format === 'lines' || format === 'jsonl') && !gpuInProcess;
    // guessed wrong: let them go now rather than hold their memory through the run
    if (!parallel) await warm?.dispose();
    const policy = {
      ...(o.backend ? { backend: o.backend } : {}),
      onWarning: warn,
      ...(loseAfter > 0 ? { afterGpuBatch: async (done: number) => (done === loseAfter ? moe.loseDeviceForTesting() : undefined) } : {}),
      ...(spec.explain ? { includeStats: true } : {}),
    };
    // On the GPU the workers read, parse and format; the main thread routes each chunk on the device.
    const routeOnMain = choice.backend === 'gpu' ? routeChunksWith(routeInPieces(routeWithFallback(moe, policy, state), o.batchRecords, o.batchBytes), state) : undefined;
    // lines in process (a software GPU, Parquet output): chunks of whole lines packed by the workers' line packer
    const maxRecordBytes = o.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
    // a quarter of --batch-bytes of text: a batch's weight counts 128 bytes a record besides its text (record-reader.ts),
    // which on short lines (about 46 bytes) is three quarters of it
    const lineChunkBytes = Math.max(1024, Math.floor(o.batchBytes / 4));
    const inProcessLines =
      !parallel && text !== undefined && format === 'lines'
        ? packedLineBatches(text.positioned ? fileLineChunks(text.positioned, lineChunkBytes, maxRecordBytes) : streamLineChunks(text.source, lineChunkBytes, maxRecordBytes), {
            atFileStart: !text.range || text.range.start === 0,
            maxRecordBytes,
            firstIndex: firstRecordIndex(text, format),
            firstLine: (text.range?.linesBefore ?? 0) + 1,
          })
        : null;
    const batches: AsyncIterable<FormattedBatch> = parallel && text
      ? parallelBatches(text.positioned ? { kind: 'file', file: text.positioned } : { kind: 'stream', source: text.source }, {
          threads,
          config: moe.config,
          format: format as 'lines' | 'jsonl',
          ...(o.field !== undefined ? { field: o.field } : {}),
          file: opened.name,
          spec,
          onError: o.onError,
          keepForListeners: listeners.length > 0,
          kernel: choice.backend === 'cpu-reference' ? 'cpu-reference' : 'cpu',
          firstIndex: firstRecordIndex(text, format),
          firstLine: (text.range?.linesBefore ?? 0) + 1,
          maxRecordBytes: o.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES,
          // chunks of 64 KiB to 2 MiB: enough to keep a worker busy, small enough to bound memory (and to stay in cache: 2 MiB measured faster than 4)
          chunkBytes: Number(process.env[CHUNK_BYTES_ENV] ?? 0) || Math.max(64 << 10, Math.min(o.batchBytes, 2 << 20)),
          atFileStart: !text.range || text.range.start === 0,
          batchRecords: o.batchRecords,
          readError: (err) => ioError('read input', opened.name, err),
          ...(routeOnMain ? { route: routeOnMain } : {}),
        }, warm ?? undefined)
      : inProcessBatches(moe, inProcessLines ?? opened.batches, {
          ...policy,
          // line chunks are cut near --batch-bytes and finish their last line: only records split them
          pieces: { records: o.batchRecords, bytes: inProcessLines ? Number.MAX_SAFE_INTEGER : o.batchBytes },
          spec,
          onError: o.onError,
          keepText: listeners.length > 0,
          keepSource: rows.length > 0,
          state,
        });
    const { stats, failure } = await runRouteJob({
      moe,
      input: {
        name: opened.name,
        format,
        size: opened.size,
        fingerprint,
        statsExtra: (): Partial<RunStats> => ({
          ...(costMeter ? { cost: costMeter.stats() } : {}),
          ...(text?.changed ? { inputChanged: text.changed } : {}),
          backendChoice: `${choice.reason}${parallel ? `; ${threads} worker thread${threads === 1 ? '' : 's'}` : ''}`,
          ...(opened.shard && shardSpec ? { shard: { index: shardSpec.index, count: shardSpec.count, ...opened.shard } } : {}),
        }),
      },
      batches,
      spec,
      sinks,
      listeners,
      fallbackBatches: () => state.cpuFallbackBatches,
    });
    progress?.done();
    if (failure) {
      await monitor?.finish();
      // stdout is a stream, not a file to commit: the records before the bad one are delivered.
      if (stdout) await stdout.flush().catch(() => undefined);
      if (!o.quiet) process.stderr.write(formatSummary(stats));
      throw failure;
    }
    if (stdout) await stdout.flush().catch((err: unknown) => Promise.reject(err instanceof BrokenPipeError ? err : ioError('write output', 'stdout', err)));
    if (statsFile) await statsFile.write(JSON.stringify(stats, null, 2) + '\n');
    await monitor?.writeFiles();
    await files.commit((name, err) => new CliError(`cannot write ${name}: ${ioMessage(err)}`));
    files = null;
    if (!o.quiet) process.stderr.write(formatSummary(stats));
    await monitor?.finish();
    return 0;
  } finally {
    await warm?.dispose();
    if (files) await files.abort();
    await monitor?.abort();
    await moe.dispose();
  }
}

