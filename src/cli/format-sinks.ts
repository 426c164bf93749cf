/**
 * The sinks that write whole batches of rows rather than text lines: Parquet
 * output (`--output-format parquet`) and Parquet shards (`--shards DIR` with
 * Parquet input, so the shards keep the input's format). Their files come
 * from the run's OutputSet like every other output (checked up front,
 * committed all or nothing).
 */
import type { RecordBatch } from '../sources/record-reader.js';
import { ParquetRecordSink, ParquetShardSink, type ByteSink, type RoutedRows } from '../sinks/parquet-sink.js';
import type { FormattedBatch } from '../job/formatted-batch.js';
import type { RowSink } from '../job/route-job.js';
import type { RecordSource } from './record-source.js';

/** The rows of a formatted batch (the in-process path keeps its record batch for these sinks). */
export function rowsOfFormatted(fb: FormattedBatch, batch: RecordBatch): RoutedRows {
  const messages = new Map<number, string>();
  for (const e of batch.errors) if (e.local < fb.records) messages.set(e.local, `line ${e.line}: ${e.message}`);
  return {
    firstIndex: fb.firstIndex,
    records: fb.records,
    experts: fb.experts,
    scoresQ16: fb.scoresQ16,
    confidenceQ16: fb.confidenceQ16,
    text: batch.text,
    errorMessage: (local) => messages.get(local) ?? 'not routed',
  };
}

function rowSink(sink: ParquetRecordSink | ParquetShardSink): RowSink {
  return {
    write: (fb, batch) => sink.write(rowsOfFormatted(fb, batch)),
    finish: () => sink.finish(),
  };
}

export async function parquetOutputSink(out: ByteSink, includeText: boolean, errorColumn: boolean): Promise<RowSink> {
  return rowSink(await ParquetRecordSink.create(out, includeText, errorColumn));
}

export async function parquetShardSink(outs: readonly ByteSink[], source: RecordSource): Promise<RowSink> {
  if (!source.parquet) throw new Error('Parquet shards need Parquet input');
  return rowSink(await ParquetShardSink.create(outs, source.parquet));
}
