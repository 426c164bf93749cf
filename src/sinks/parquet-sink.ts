/**
 * Parquet outputs, written with hyparquet-writer (an optional dependency,
 * loaded on first use) one row group per routed batch, into byte sinks that
 * their owner commits (atomic files: temporary name, renamed when complete):
 * - `--output-format parquet`: index, expert, complexity, confidence (+ text, + error);
 * - `--shards DIR` with Parquet input: DIR/expert-K.parquet, the input's rows
 *   unchanged (every column, the input's schema), in input order.
 */
import type { SchemaElement } from 'hyparquet';
import type { Writer } from 'hyparquet-writer';
import { loadOptional } from '../sources/optional-module.js';
import type { PackedBatch } from '../model/packed-batch.js';
import { NO_EXPERT } from '../job/events.js';
import type { ParquetSource } from '../sources/parquet-source.js';

type HyparquetWriter = typeof import('hyparquet-writer');
type ParquetWriterT = InstanceType<HyparquetWriter['ParquetWriter']>;
type ColumnValues = NonNullable<Parameters<ParquetWriterT['write']>[0]>['columnData'][number]['data'];

/**
 * Rows [0, records) of a routed batch, as the sinks take them (the fields of
 * the route job's formatted batch): error records have expert NO_EXPERT.
 */
export interface RoutedRows {
  firstIndex: number;
  records: number;
  experts: ArrayLike<number>;
  scoresQ16: ArrayLike<number>;
  confidenceQ16: ArrayLike<number>;
  /** The records' text (needed with --include-text). */
  text: PackedBatch | null;
  /** The message of error record `local` ("line 4: ..."). */
  errorMessage(local: number): string;
}

export function loadParquetWriter(purpose: string): Promise<HyparquetWriter> {
  return loadOptional('hyparquet-writer', purpose, () => import('hyparquet-writer'));
}

/** Where a Parquet file's bytes go, in order (an AtomicFile, the route job's ByteWriter). The owner commits or aborts it. */
export interface ByteSink {
  write(data: Uint8Array): Promise<void>;
}

/** A Parquet file being written: hyparquet-writer's Writer whose flushes go to a ByteSink. */
class ParquetFileOut {
  private readonly writer: ParquetWriterT;
  constructor(out: ByteSink, hw: HyparquetWriter, schema: SchemaElement[]) {
    const w: Writer = new hw.ByteWriter();
    const bw = w as Writer & { index: number };
    // ParquetWriter awaits flush() after each row group: the bytes go out, the buffer is reused
    w.flush = async () => {
      const bytes = new Uint8Array(bw.buffer, 0, bw.index).slice();
      bw.index = 0;
      await out.write(bytes);
    };
    w.finish = () => w.flush?.();
    this.writer = new hw.ParquetWriter({ writer: w, schema });
  }

  async write(columnData: { name: string; data: ColumnValues }[]): Promise<void> {
    if (columnData.length === 0 || columnData[0].data.length === 0) return;
    await this.writer.write({ columnData, rowGroupSize: columnData[0].data.length });
  }

  /** Writes the footer (the file's metadata): the file is complete once its sink is committed. */
  async finish(): Promise<void> {
    await this.writer.finish();
  }
}

const q = (v: number): number => v / 65536;

/** `--output-format parquet`: one row per input record; error records have null expert/complexity/confidence and an error. */
export class ParquetRecordSink {
  private constructor(
    private readonly out: ParquetFileOut,
    private readonly includeText: boolean,
    private readonly errorColumn: boolean,
  ) {}

  static async create(out: ByteSink, includeText: boolean, errorColumn: boolean): Promise<ParquetRecordSink> {
    const hw = await loadParquetWriter('--output-format parquet');
    const schema: SchemaElement[] = [
      { name: 'index', type: 'INT64', repetition_type: 'REQUIRED' },
      { name: 'expert', type: 'INT32', repetition_type: 'OPTIONAL' },
      { name: 'complexity', type: 'DOUBLE', repetition_type: 'OPTIONAL' },
      { name: 'confidence', type: 'DOUBLE', repetition_type: 'OPTIONAL' },
    ];
    if (includeText) schema.push({ name: 'text', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' });
    if (errorColumn) schema.push({ name: 'error', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' });
    const root: SchemaElement = { name: 'root', num_children: schema.length };
    return new ParquetRecordSink(new ParquetFileOut(out, hw, [root, ...schema]), includeText, errorColumn);
  }

  /** Writes the rows, one per record, error records included. */
  async write(b: RoutedRows): Promise<void> {
    const index: bigint[] = [];
    const expert: (number | null)[] = [];
    const complexity: (number | null)[] = [];
    const confidence: (number | null)[] = [];
    const text: (string | null)[] = [];
    const error: (string | null)[] = [];
    const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
    for (let i = 0; i < b.records; i++) {
      index.push(BigInt(b.firstIndex + i));
      const x = b.experts[i];
      if (x === NO_EXPERT) {
        expert.push(null);
        complexity.push(null);
        confidence.push(null);
        text.push(null);
        error.push(b.errorMessage(i));
        continue;
      }
      expert.push(x);
      complexity.push(q(b.scoresQ16[i]));
      confidence.push(q(b.confidenceQ16[i]));
      if (this.includeText && b.text) text.push(decoder.decode(b.text.bytes.subarray(b.text.offsets[i], b.text.offsets[i + 1])));
      error.push(null);
    }
    const cols: { name: string; data: ColumnValues }[] = [
      { name: 'index', data: index },
      { name: 'expert', data: expert },
      { name: 'complexity', data: complexity },
      { name: 'confidence', data: confidence },
    ];
    if (this.includeText) cols.push({ name: 'text', data: text });
    if (this.errorColumn) cols.push({ name: 'error', data: error });
    await this.out.write(cols);
  }

  finish(): Promise<void> {
    return this.out.finish();
  }
}

/** `--shards DIR` with Parquet input: each routed row, unchanged, into DIR/expert-K.parquet. */
export class ParquetShardSink {
  private constructor(
    private readonly source: ParquetSource,
    private readonly outs: ParquetFileOut[],
    private readonly columns: string[],
  ) {}

  /** One output per expert (expert-K.parquet), written with the input's schema. */
  static async create(outs: readonly ByteSink[], source: ParquetSource): Promise<ParquetShardSink> {
    const hw = await loadParquetWriter('--shards with Parquet input');
    return new ParquetShardSink(
      source,
      outs.map((o) => new ParquetFileOut(o, hw, source.metadata.schema)),
      source.topLevelColumns(),
    );
  }

  /** Appends each routed row, unchanged, to its expert's file (error records are not written). */
  async write(b: RoutedRows): Promise<void> {
    if (b.records === 0) return;
    const rows = await this.source.rows(b.firstIndex, b.firstIndex + b.records);
    const perExpert: Record<string, unknown>[][] = this.outs.map(() => []);
    for (let i = 0; i < b.records; i++) if (b.experts[i] !== NO_EXPERT) perExpert[b.experts[i]].push(rows[i]);
    for (let e = 0; e < this.outs.length; e++) {
      const part = perExpert[e];
      if (part.length === 0) continue;
      await this.outs[e].write(this.columns.map((name) => ({ name, data: part.map((r) => r[name]) as ColumnValues })));
    }
  }

  async finish(): Promise<void> {
    for (const o of this.outs) await o.finish();
  }
}
