/**
 * The sinks that write whole batches rather than text lines: Parquet output
 * (`--output-format parquet`) and Parquet shards (`--shards DIR` with Parquet
 * input, so the shards keep the input's format). The route loop hands each
 * batch to them; the text outputs stay with the route command.
 */
import { mkdir } from 'node:fs/promises';
import { MoeRouterError } from '../errors.js';
import { ParquetRecordSink, ParquetShardSink } from '../sinks/parquet-sink.js';
import { CliError, ioError } from './cli-errors.js';
import type { RecordSource } from './record-source.js';

export interface BatchSinks {
  output: ParquetRecordSink | null;
  shards: ParquetShardSink | null;
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
  let output: ParquetRecordSink | null = null;
  let shards: ParquetShardSink | null = null;
  if (o.outputFormat === 'parquet') {
    if (o.out === undefined || o.out === '-') throw new CliError('--output-format parquet writes a file: give --out FILE.parquet');
    output = await ParquetRecordSink.open(o.out, o.includeText ?? false, o.onError === 'skip').catch((err: unknown) => Promise.reject(wrap('write output', o.out ?? '', err)));
  }
  if (o.shards !== undefined && source.format === 'arrow') {
    await output?.abort();
    throw new CliError('--shards with Arrow IPC input is not supported: convert it to Parquet, or route it without --shards');
  }
  if (o.shards !== undefined && source.parquet) {
    const dir = o.shards;
    try {
      await mkdir(dir, { recursive: true });
      shards = await ParquetShardSink.open(dir, numExperts, source.parquet);
    } catch (err) {
      await output?.abort();
      throw wrap('write shards in', dir, err);
    }
  }
  return {
    output,
    shards,
    async commit() {
      if (output) await output.commit().catch((err: unknown) => Promise.reject(ioError('write output', output?.path ?? '', err)));
      output = null;
      if (shards) await shards.commit().catch((err: unknown) => Promise.reject(ioError('write shards in', o.shards ?? '', err)));
      shards = null;
    },
    async abort() {
      await output?.abort();
      await shards?.abort();
    },
  };
}

function wrap(what: string, path: string, err: unknown): Error {
  return err instanceof MoeRouterError || err instanceof CliError ? err : ioError(what, path, err);
}
