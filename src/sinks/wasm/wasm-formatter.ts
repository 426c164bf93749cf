/**
 * Host side of the WebAssembly output formatter (format.c -> format.wasm):
 * the same bytes as ByteFormatter.records, about ten times faster. The
 * format's literals and the Q16 table are written into the module's memory
 * once; then a run of routed records goes through in windows: its results
 * (and texts) are copied in, formatted, and the output copied into the
 * caller's ByteOutput. A record whose text would not fit the module's output
 * area goes through ByteFormatter instead.
 */
import { align8, growTo, instantiate, type ModuleExports, MemoryViews } from '../../wasm/instance.js';
import type { SharedMemory } from '../../wasm/shared-memory.js';
import { windowEnd } from '../../wasm/windows.js';
import { ByteFormatter, recordLiterals, runText, type ByteOutput, type RecordLiterals, type RecordRun, type RunFormatter } from '../byte-formatter.js';
import type { PackedBatch } from '../../model/packed-batch.js';
import type { FormatOptions } from '../output-format.js';

/** The module, for a SharedMemory to instantiate. */
export const FORMAT_WASM = new URL('./format.wasm', import.meta.url);

interface FormatExports extends ModuleExports {
  literal_ptr(): number;
  literal_length_ptr(): number;
  literal_count(): number;
  literal_bytes(): number;
  q16_text_ptr(): number;
  q16_length_ptr(): number;
  q16_bytes(): number;
  build_q16(): void;
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
  /** A memory shared with the other modules: the module's instance there, the windows above every module's region. */
  shared?: SharedMemory;
}

/** Routed records already in the memory (a shared one): where their results and texts are. */
export interface RunInMemory {
  firstIndex: number;
  count: number;
  experts: number;
  scores: number;
  conf: number;
  /** With --include-text: record i's text is memory[bytes + offsets[i] - base, bytes + offsets[i + 1] - base). */
  text?: { bytes: number; offsets: number; base: number };
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
  private readonly views: MemoryViews;
  /** For the records too big for the output area. */
  private readonly slow: ByteFormatter;
  /** Bytes past the end of the last text that format.c may read: a text area needs this much room after it. */
  readonly textSlack: number;

  constructor(options: FormatOptions, sizes: WasmFormatterSizes = {}) {
    this.includeText = options.includeText;
    this.windowBytes = Math.max(1, Math.floor(sizes.windowBytes ?? 1 << 20));
    this.windowRecords = Math.max(1, Math.floor(sizes.windowRecords ?? 16384));
    this.x = sizes.shared ? sizes.shared.instance<FormatExports>(FORMAT_WASM) : instantiate<FormatExports>(FORMAT_WASM);
    const x = this.x;
    this.outputBytes = Math.max(1, Math.floor(sizes.outputBytes ?? 4 << 20));
    this.textPtr = align8(sizes.shared?.at ?? x.heap_base());
    // format.c reads texts a block at a time: up to text_slack() bytes past the end of the last one.
    this.textSlack = x.text_slack();
    this.offsetsPtr = align8(this.textPtr + this.windowBytes + this.textSlack);
    this.expertsPtr = align8(this.offsetsPtr + 4 * (this.windowRecords + 1));
    this.scoresPtr = align8(this.expertsPtr + 4 * this.windowRecords);
    this.confPtr = align8(this.scoresPtr + 4 * this.windowRecords);
    this.outPtr = align8(this.confPtr + 4 * this.windowRecords);
    const end = this.outPtr + this.outputBytes;
    sizes.shared?.reserveTo(end);
    growTo(x.memory, end);
    this.views = new MemoryViews(x.memory);

    const literals = recordLiterals(options);
    if (x.literal_count() !== LITERAL_ORDER.length) throw new Error(`format.wasm has ${x.literal_count()} literals, the host ${LITERAL_ORDER.length}: rebuild it (npm run build:wasm)`);
    LITERAL_ORDER.forEach((name, k) => {
      const bytes = encoder.encode(literals[name]);
      if (bytes.length > x.literal_bytes()) throw new Error(`the literal ${JSON.stringify(literals[name])} is longer than format.wasm's ${x.literal_bytes()} bytes`);
      this.views.u8.set(bytes, x.literal_ptr() + k * x.literal_bytes());
      this.views.u32[(x.literal_length_ptr() >>> 2) + k] = bytes.length;
    });
    x.build_q16();
    const mode = !options.includeText ? TEXT_NONE : options.format === 'jsonl' ? TEXT_JSON : TEXT_CSV;
    x.set_mode(mode, options.format === 'tsv' ? 0x09 : 0x2c);
    this.slow = new ByteFormatter(options);
  }

  /** ByteFormatter.records, in WebAssembly: the same run, the same bytes. */
  records(out: ByteOutput, run: RecordRun): void {
    const text = runText(run, this.includeText, 'WasmFormatter');
    const { firstIndex, count, experts, scoresQ16, confidenceQ16 } = run;
    const { x, textPtr, offsetsPtr, expertsPtr, scoresPtr, confPtr, outPtr, outputBytes } = this;
    const { u8: mem8, u32: mem32 } = this.views;
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

  /** records(), for records already in the memory: nothing is copied in, the output is copied out. */
  recordsInMemory(out: ByteOutput, run: RunInMemory): void {
    if ((run.text !== undefined) !== this.includeText) throw new Error(`WasmFormatter: ${this.includeText ? 'texts are needed' : 'no texts are written'} with this format`);
    const { x, outPtr, outputBytes } = this;
    const { u8: mem8, u32: mem32 } = this.views;
    const text = run.text ?? { bytes: 0, offsets: 0, base: 0 };
    let k = 0;
    while (k < run.count) {
      const done = x.format_window(run.count - k, run.firstIndex + k, run.experts + 4 * k, run.scores + 4 * k, run.conf + 4 * k, text.bytes, text.offsets + 4 * k, text.base, outPtr, outputBytes);
      if (done > 0) out.writeBytes(mem8.subarray(outPtr, outPtr + x.written()));
      else if (run.text) {
        // a record whose text would not fit the output area, as records() writes it
        const at = (p: number, i: number): number => mem32[(p >>> 2) + i];
        const start = text.bytes + at(text.offsets, k) - text.base;
        const end = text.bytes + at(text.offsets, k + 1) - text.base;
        this.slow.record(out, run.firstIndex + k, at(run.experts, k), at(run.scores, k), at(run.conf, k), mem8, start, end);
      } else throw new Error(`format.wasm's output area (${outputBytes} bytes) cannot hold one record`);
      k += Math.max(done, 1);
    }
  }

  private slowRecord(out: ByteOutput, run: RecordRun, i: number, text: PackedBatch): void {
    this.slow.record(out, run.firstIndex + i, run.experts[i], run.scoresQ16[i], run.confidenceQ16[i], text.bytes, text.offsets[i], text.offsets[i + 1]);
  }
}
