/**
 * Sinks: where routed batches go. A sink knows its format and its files,
 * never a CLI flag. The job calls write() once per batch, in input order,
 * with `upTo` = how many records of the batch to write (fewer than the batch
 * when a bad record stops the run), then finish().
 */
import type { BatchRouting } from '../router/switched-moe.js';
import type { RecordBatch } from '../sources/record-reader.js';
import { RecordFormatter } from './output-format.js';

/** Anything bytes can be appended to: an AtomicFile, stdout. */
export interface ByteWriter {
  write(data: string | Uint8Array): Promise<void>;
}

export interface RoutedBatch {
  batch: RecordBatch;
  /** null when the batch holds no record to route (only error records). */
  routing: BatchRouting | null;
  upTo: number;
}

export interface RecordSink {
  write(routed: RoutedBatch): Promise<void>;
  /** Everything has been written (headers of empty outputs, trailing buffers). */
  finish(): Promise<void>;
}

const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

/** Records rendered in slices so that the temporary strings die young (peak memory stays low). */
const RENDER_SLICE = 4096;

/** One output record per input record: jsonl, csv or tsv. */
export class FormattedSink implements RecordSink {
  private headerWritten = false;

  constructor(
    private readonly out: ByteWriter,
    private readonly formatter: RecordFormatter,
    private readonly includeText: boolean,
  ) {}

  private async header(): Promise<void> {
    if (this.headerWritten) return;
    this.headerWritten = true;
    const h = this.formatter.header();
    if (h) await this.out.write(h);
  }

  async write({ batch, routing, upTo }: RoutedBatch): Promise<void> {
    await this.header();
    for (let from = 0; from < upTo; from += RENDER_SLICE) {
      await this.out.write(this.render(batch, routing, from, Math.min(upTo, from + RENDER_SLICE)));
    }
  }

  private render(batch: RecordBatch, routing: BatchRouting | null, from: number, upTo: number): string {
    const f = this.formatter;
    let out = '';
    let nextErr = 0;
    while (nextErr < batch.errors.length && batch.errors[nextErr].local < from) nextErr++;
    const { bytes, offsets } = batch.text;
    for (let i = from; i < upTo; i++) {
      const index = batch.firstIndex + i;
      if (nextErr < batch.errors.length && batch.errors[nextErr].local === i) {
        out += f.error(index, `line ${batch.errors[nextErr].line}: ${batch.errors[nextErr].message}`);
        nextErr++;
        continue;
      }
      if (!routing) throw new Error('a batch with records was not routed');
      const text = this.includeText ? decoder.decode(bytes.subarray(offsets[i], offsets[i + 1])) : undefined;
      out += f.record(index, routing.experts[i], routing.scoresQ16[i], routing.confidenceQ16[i], text);
    }
    return out;
  }

  finish(): Promise<void> {
    return this.header();
  }
}

/**
 * Each routed record, unchanged (its bytes without the line end, plus LF), in
 * its expert's file, in input order; csv/tsv files start with the input's
 * header. Error records are not written to shards.
 */
export class ShardSink implements RecordSink {
  private headersWritten = false;

  constructor(
    private readonly files: readonly ByteWriter[],
    /** lines: the text is the record; other formats: the raw record bytes. */
    private readonly rawRecords: boolean,
    private readonly header: () => Uint8Array | null,
  ) {}

  private async headers(): Promise<void> {
    if (this.headersWritten) return;
    const h = this.header();
    if (!h) return;
    this.headersWritten = true;
    const line = Buffer.concat([h, Buffer.from('\n')]);
    for (const f of this.files) await f.write(line);
  }

  async write({ batch, routing, upTo }: RoutedBatch): Promise<void> {
    await this.headers();
    if (!routing) return;
    const src = this.rawRecords ? (batch.raw ?? batch.text) : batch.text;
    const n = this.files.length;
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
    for (let e = 0; e < n; e++) if (sizes[e] > 0) await this.files[e].write(bufs[e]);
  }

  finish(): Promise<void> {
    return this.headers();
  }
}
