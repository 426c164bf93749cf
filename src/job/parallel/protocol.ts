/** Messages between the route job (main thread) and its chunk workers. */
import type { RouterConfig } from '../../model/router-config.js';
import type { OutputSpec } from '../../sinks/batch-formatter.js';
import type { BatchRoutingInfo, FormattedBatch } from '../formatted-batch.js';
import type { PackedBatch } from '../../model/packed-batch.js';
import type { LineRange } from '../../sources/line-ranges.js';

export interface WorkerInit {
  config: RouterConfig;
  format: 'lines' | 'jsonl';
  field?: string;
  /** Input name for messages. */
  file: string;
  spec: OutputSpec;
  onError: 'fail' | 'skip';
  /** Send each chunk's text and per-record results back (listeners read them); else only its output and counts. */
  keepForListeners: boolean;
  /**
   * Kernel to run: the fast CPU one, or the reference (tests, benchmarks); 'main': the main
   * thread routes each chunk (on the GPU) and sends the results back for formatting.
   */
  kernel: 'cpu' | 'cpu-reference' | 'main';
  /** --max-record-bytes: a longer record is a bad record. */
  maxRecordBytes: number;
  /** The first chunk starts the file (a UTF-8 BOM there is skipped; elsewhere U+FEFF is text). */
  atFileStart: boolean;
  /** --batch-records: a chunk holding more records is formatted and sent as several batches (batch-pieces.ts). */
  batchRecords: number;
  /** A regular file's descriptor (shared by the threads of the process): the workers read their ranges of it themselves. */
  fd?: number;
}

/** Size of the output buffers a worker reuses: the WebAssembly formatter's output area (WasmFormatter's default). */
export const POOLED_PART_BYTES = 4 << 20;

export type ToWorker =
  /** The job's options: a worker's first message. */
  | { type: 'init'; init: WorkerInit }
  /** A chunk of whole lines (its buffer is transferred). */
  | { type: 'chunk'; seq: number; bytes: Uint8Array; skippedBytes: number }
  /** A byte range of the file (init.fd) to read whole lines from (line-ranges.ts). */
  | { type: 'range'; seq: number; range: LineRange }
  /** The main thread's routing of a chunk's text (kernel 'main'); the text comes back with it. */
  | { type: 'routed'; seq: number; routing: BatchRoutingInfo; text: PackedBatch }
  /** Output buffers of this worker's, written: to be reused (they come back transferred). */
  | { type: 'recycle'; buffers: ArrayBuffer[] }
  /** Where the chunk starts in the whole input, known once every earlier chunk is counted. */
  | { type: 'base'; seq: number; firstIndex: number; firstLine: number };

export type FromWorker =
  /** Records and lines of a chunk, sent as soon as it is parsed (the next chunk's base depends on it). */
  | { type: 'counted'; seq: number; records: number; lines: number }
  /** A chunk's batches, in order (several when it held more than init.batchRecords records); `eof`: a range met the end of the file. */
  | { type: 'done'; seq: number; batches: FormattedBatch[]; eof: boolean }
  /** Kernel 'main': a chunk's text to route (its buffers are transferred). */
  | { type: 'route'; seq: number; text: PackedBatch }
  /** `code`: a system error's code (EIO, ...) when reading the file failed. */
  | { type: 'failed'; seq: number; name: string; message: string; stack?: string; code?: string };
