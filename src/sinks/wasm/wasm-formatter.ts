/**
 * Host side of the WebAssembly output formatter (format.c -> format.wasm):
 * the same bytes as ByteFormatter.records, about ten times faster. The
 * format's literals and the Q16 table are written into the module's memory
 * once; then a run of routed records goes through in windows: its results
 * (and texts) are copied in, formatted, and the output copied into the
 * caller's ByteOutput. A record whose text would not fit the module's output
 * area goes through ByteFormatter instead.
 */
import { align8, growTo, instantiate, type ModuleExports } from '../../wasm/instance.js';
import { windowEnd } from '../../wasm/windows.js';
import { ByteFormatter, q16Table, recordLiterals, runText, type ByteOutput, type RecordLiterals, type RecordRun, type RunFormatter } from '../byte-formatter.js';
import type { PackedBatch } from '../../model/packed-batch.js';
import type { FormatOptions } from '../output-format.js';

interface FormatExports extends ModuleExports {
  literal_ptr(): number;
  literal_length_ptr(): number;
  literal_count(): number;
  literal_bytes(): number;
  q16_text_ptr(): number;
  q16_length_ptr(): number;
  q16_bytes(): number;
  text_slack(): number;
  set_mode(mode: number, delimiter: number): void;
  written(): number;
  format_window(
    count: number,
    firstIndex: number,
    experts: number,
    scores: number,
    conf: number,
    bytes: number,
    offsets: number,
    base: number,
    out: number,
    capacity: number,
  ): number;
}

/** format.c's L_* order. */
const LITERAL_ORDER: readonly (keyof RecordLiterals)[] = ['index', 'expert', 'complexity', 'confidence', 'textOpen', 'textClose', 'end'];
/** format.c's TEXT_* modes. */
const TEXT_NONE = 0;
const TEXT_JSON = 1;
const TEXT_CSV = 2;

export interface WasmFormatterSizes {
  /** Text bytes copied in per call (default 1 MiB). */
  windowBytes?: number;
  /** Records per call (default 16384). */
  windowRecords?: number;
  /** The module's output area (default 4 MiB); tests make it small to cut runs. */
  outputBytes?: number;
}

const encoder = new TextEncoder();

export class WasmFormatter implements RunFormatter {
  private readonly x: FormatExports;
  private readonly includeText: boolean;
  private readonly windowBytes: number;
  private readonly windowRecords: number;
  private readonly outputBytes: number;
  private readonly textPtr: number;
  private readonly offsetsPtr: number;
  private readonly expertsPtr: number;
  private readonly scoresPtr: number;
  private readonly confPtr: number;
  private readonly outPtr: number;
  private readonly mem8: Uint8Array;
  private readonly mem32: Uint32Array;
  /** For the records too big for the output area. */
  private readonly slow: ByteFormatter;

  constructor(options: FormatOptions, sizes: WasmFormatterSizes = {}) {
    this.includeText = options.includeText;
    this.windowBytes = Math.max(1, Math.floor(sizes.windowBytes ?? 1 << 20));
    this.windowRecords = Math.max(1, Math.floor(sizes.windowRecords ?? 16384));
    this.x = instantiate<FormatExports>(new URL('./format.wasm', import.meta.url));
    const x = this.x;
    this.outputBytes = Math.max(1, Math.floor(sizes.outputBytes ?? 4 << 20));
    this.textPtr = align8(x.heap_base());
    // format.c reads texts a block at a time: up to text_slack() bytes past the end of the last one.
    this.offsetsPtr = align8(this.textPtr + this.windowBytes + x.text_slack());
    this.expertsPtr = align8(this.offsetsPtr + 4 * (this.windowRecords + 1));
    this.scoresPtr = align8(this.expertsPtr + 4 * this.windowRecords);
    this.confPtr = align8(this.scoresPtr + 4 * this.windowRecords);
    this.outPtr = align8(this.confPtr + 4 * this.windowRecords);
    growTo(x.memory, this.outPtr + this.outputBytes);
    // The memory never grows again, so these views stay valid.
    this.mem8 = new Uint8Array(x.memory.buffer);
    this.mem32 = new Uint32Array(x.memory.buffer);

    const literals = recordLiterals(options);
    if (x.literal_count() !== LITERAL_ORDER.length) throw new Error(`format.wasm has ${x.literal_count()} literals, the host ${LITERAL_ORDER.length}: rebuild it (npm run build:wasm)`);
    LITERAL_ORDER.forEach((name, k) => {
      const bytes = encoder.encode(literals[name]);
      if (bytes.length > x.literal_bytes()) throw new Error(`the literal ${JSON.stringify(literals[name])} is longer than format.wasm's ${x.literal_bytes()} bytes`);
      this.mem8.set(bytes, x.literal_ptr() + k * x.literal_bytes());
      this.mem32[(x.literal_length_ptr() >>> 2) + k] = bytes.length;
    });
    const q16 = q16Table();
    if (q16.words.byteLength / q16.length.length !== x.q16_bytes()) throw new Error('format.wasm and byte-formatter.ts disagree on the Q16 table layout: rebuild it (npm run build:wasm)');
    this.mem8.set(new Uint8Array(q16.words.buffer, q16.words.byteOffset, q16.words.byteLength), x.q16_text_ptr());
    this.mem8.set(q16.length, x.q16_length_ptr());
    const mode = !options.includeText ? TEXT_NONE : options.format === 'jsonl' ? TEXT_JSON : TEXT_CSV;
    x.set_mode(mode, options.format === 'tsv' ? 0x09 : 0x2c);
    this.slow = new ByteFormatter(options);
  }

  /** ByteFormatter.records, in WebAssembly: the same run, the same bytes. */
  records(out: ByteOutput, run: RecordRun): void {
    const text = runText(run, this.includeText, 'WasmFormatter');
    const { firstIndex, count, experts, scoresQ16, confidenceQ16 } = run;
    const { x, mem8, mem32, textPtr, offsetsPtr, expertsPtr, scoresPtr, confPtr, outPtr, outputBytes } = this;
    let i = 0;
    while (i < count) {
      if (text && text.offsets[i + 1] - text.offsets[i] > this.windowBytes) {
        this.slowRecord(out, run, i, text);
        i++;
        continue;
      }
      const j = text ? windowEnd(text.offsets, i, count, this.windowBytes, this.windowRecords) : Math.min(count, i + this.windowRecords);
      const base = text ? text.offsets[i] : 0;
      if (text) {
        mem8.set(text.bytes.subarray(base, text.offsets[j]), textPtr);
        mem32.set(text.offsets.subarray(i, j + 1), offsetsPtr >>> 2);
      }
      mem32.set(experts.subarray(i, j), expertsPtr >>> 2);
      mem32.set(scoresQ16.subarray(i, j), scoresPtr >>> 2);
      mem32.set(confidenceQ16.subarray(i, j), confPtr >>> 2);
      // The output area may fill before the window is done: write what it holds, go on from there.
      let k = 0;
      while (k < j - i) {
        const done = x.format_window(j - i - k, firstIndex + i + k, expertsPtr + 4 * k, scoresPtr + 4 * k, confPtr + 4 * k, textPtr, offsetsPtr + 4 * k, base, outPtr, outputBytes);
        if (done > 0) out.writeBytes(mem8.subarray(outPtr, outPtr + x.written()));
        else if (text) this.slowRecord(out, run, i + k, text);
        else throw new Error(`format.wasm's output area (${outputBytes} bytes) cannot hold one record`);
        k += Math.max(done, 1);
      }
      i = j;
    }
  }

  private slowRecord(out: ByteOutput, run: RecordRun, i: number, text: PackedBatch): void {
    this.slow.record(out, run.firstIndex + i, run.experts[i], run.scoresQ16[i], run.confidenceQ16[i], text.bytes, text.offsets[i], text.offsets[i + 1]);
  }
}
