/**
 * The sinks that write whole batches rather than text lines: Parquet output
 * (`--output-format parquet`) and Parquet shards (`--shards DIR` with Parquet
 * input, so the shards keep the input's format). The route loop hands each
 * batch to them; the text outputs stay with the route command.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { MoeRouterError } from '../errors.js';
import { NO_EXPERT } from '../job/events.js';
import type { BatchRouting } from '../router/switched-moe.js';
import type { RecordBatch } from '../sources/record-reader.js';
import { ParquetRecordSink, ParquetShardSink, type ByteSink, type RoutedRows } from '../sinks/parquet-sink.js';
import { AtomicFile } from '../sinks/atomic-file.js';
import { CliError, ioError } from './cli-errors.js';
import type { RecordSource } from './record-source.js';

export interface BatchSinks {
  output: ParquetRecordSink | null;
  shards: ParquetShardSink | null;
  /** Writes records [0, upTo) of a routed batch to the sinks; counts the routed ones per expert when the output is Parquet. */
  write(batch: RecordBatch, routing: BatchRouting | null, upTo: number, perExpert: number[]): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

export interface BatchSinkOptions {
  out?: string;
  outputFormat?: string;
  includeText?: boolean;
  onError: 'fail' | 'skip';
  shards?: string;
}

export async function openBatchSinks(o: BatchSinkOptions, source: RecordSource, numExperts: number): Promise<BatchSinks> {
  if (o.outputFormat === 'parquet' && (o.out === undefined || o.out === '-')) throw new CliError('--output-format parquet writes a file: give --out FILE.parquet');
  if (o.shards !== undefined && source.format === 'arrow') throw new CliError('--shards with Arrow IPC input is not supported: convert it to Parquet, or route it without --shards');
  const files: AtomicFile[] = [];
  const open = async (what: string, path: string): Promise<AtomicFile> => {
    try {
      const f = await AtomicFile.open(path);
      files.push(f);
      return f;
    } catch (err) {
      throw ioError(what, path, err);
    }
  };
  const named = (f: AtomicFile, what: string): ByteSink => ({ write: (d) => f.write(d).catch((err: unknown) => Promise.reject(ioError(what, f.path, err))) });
  let output: ParquetRecordSink | null = null;
  let shards: ParquetShardSink | null = null;
  try {
    if (o.outputFormat === 'parquet' && o.out !== undefined) {
      output = await ParquetRecordSink.create(named(await open('write output', o.out), 'write output'), o.includeText ?? false, o.onError === 'skip');
    }
    if (o.shards !== undefined && source.parquet) {
      const dir = o.shards;
      await mkdir(dir, { recursive: true }).catch((err: unknown) => Promise.reject(ioError('write shards in', dir, err)));
      const outs: ByteSink[] = [];
      for (let e = 0; e < numExperts; e++) outs.push(named(await open('write shard', join(dir, `expert-${e}.parquet`)), 'write shard'));
      shards = await ParquetShardSink.create(outs, source.parquet);
    }
  } catch (err) {
    for (const f of files) await f.abort();
    throw err instanceof MoeRouterError || err instanceof CliError ? err : ioError('write output', o.out ?? '', err);
  }
  return {
    output,
    shards,
    async write(batch, routing, upTo, perExpert) {
      const rows = routedRows(batch, routing, upTo);
      if (output) {
        for (let i = 0; i < upTo; i++) if (rows.experts[i] !== NO_EXPERT) perExpert[rows.experts[i]]++;
        await output.write(rows);
      }
      if (shards) await shards.write(rows);
    },
    async commit() {
      await output?.finish();
      await shards?.finish();
      for (const f of files) await f.commit().catch((err: unknown) => Promise.reject(ioError('write', f.path, err)));
      files.length = 0;
    },
    async abort() {
      for (const f of files) await f.abort();
      files.length = 0;
    },
  };
}

/** A record batch and its routing as the sinks' rows (the route job's formatted batch has the same fields). */
export function routedRows(batch: RecordBatch, routing: BatchRouting | null, upTo: number): RoutedRows {
  const experts = new Uint32Array(upTo);
  if (routing) experts.set(routing.experts.subarray(0, upTo));
  const messages = new Map<number, string>();
  for (const e of batch.errors) {
    if (e.local >= upTo) break;
    experts[e.local] = NO_EXPERT;
    messages.set(e.local, `line ${e.line}: ${e.message}`);
  }
  return {
    firstIndex: batch.firstIndex,
    records: upTo,
    experts,
    scoresQ16: routing ? routing.scoresQ16 : new Uint32Array(upTo),
    confidenceQ16: routing ? routing.confidenceQ16 : new Uint32Array(upTo),
    text: batch.text,
    errorMessage: (local) => messages.get(local) ?? 'not routed',
  };
}
