/**
 * The chunk workers' fast lane for `lines` on the fast CPU kernel: the line
 * packer, the kernel and the formatter share one WebAssembly memory
 * (SharedMemory), so a chunk is read (or copied) into it once, packed, routed
 * and formatted where it lies, and only its output comes out. The general path (packing in
 * place, routing, formatting, each module with its own memory) copies the
 * text three times and the results twice per chunk.
 *
 * It takes the common case only: a chunk that fits its areas, with no
 * over-long line, no more records than a batch may hold, and an output that
 * needs nothing but each record's results (and text). Anything else (error
 * records, --explain, --shards, model labels, listeners that want each
 * record) goes through the general path, which gives the same bytes.
 */
import { MAX_EXPERTS, type RouterConfig } from '../../model/router-config.js';
import { WasmKernel, KERNEL_WASM } from '../../backends/cpu/wasm-kernel.js';
import { WasmLinePacker, LINES_WASM } from '../../sources/wasm/wasm-lines.js';
import { WasmFormatter, FORMAT_WASM } from '../../sinks/wasm/wasm-formatter.js';
import type { ByteOutput } from '../../sinks/byte-formatter.js';
import type { FormatOptions } from '../../sinks/output-format.js';
import { MemoryViews } from '../../wasm/instance.js';
import { SharedMemory } from '../../wasm/shared-memory.js';

/** Sizes of the areas: a chunk of up to `chunkBytes` bytes holding up to `records` records. */
export interface FusedLinesSizes {
  chunkBytes: number;
  records: number;
}

/** A chunk packed in the memory: how many records it holds. */
export interface FusedChunk {
  records: number;
}

export class FusedLines {
  private readonly views: MemoryViews;
  private readonly packer: WasmLinePacker;
  private readonly kernel: WasmKernel;
  private readonly formatter: WasmFormatter;
  private readonly includeText: boolean;
  readonly sizes: FusedLinesSizes;
  private readonly inputPtr: number;
  private readonly packedPtr: number;
  private readonly offsetsPtr: number;
  private readonly tooLongPtr: number;
  private readonly expertsPtr: number;
  private readonly scoresPtr: number;
  private readonly confPtr: number;
  private readonly countsPtr: number;
  /** Records of the chunk now in the memory (-1: none). */
  private records = -1;

  constructor(options: FormatOptions, sizes: FusedLinesSizes) {
    this.sizes = sizes;
    this.includeText = options.includeText;
    const shared = new SharedMemory([LINES_WASM, KERNEL_WASM, FORMAT_WASM]);
    // The modules' own windows are not used here: the smallest that the hosts allow.
    this.packer = new WasmLinePacker({ shared, windowBytes: 1, windowRecords: 1 });
    this.kernel = new WasmKernel({ shared, windowBytes: 1, windowRecords: 1 });
    this.formatter = new WasmFormatter(options, { shared, windowBytes: 1, windowRecords: 1 });
    const slack = Math.max(this.packer.slack, this.formatter.textSlack);
    const words = 4 * (sizes.records + 1);
    this.inputPtr = shared.reserve(sizes.chunkBytes + slack);
    this.packedPtr = shared.reserve(sizes.chunkBytes + slack);
    this.offsetsPtr = shared.reserve(words);
    this.tooLongPtr = shared.reserve(words);
    this.expertsPtr = shared.reserve(words);
    this.scoresPtr = shared.reserve(words);
    this.confPtr = shared.reserve(words);
    this.countsPtr = shared.reserve(4 * MAX_EXPERTS);
    this.views = new MemoryViews(shared.memory);
  }

  /** The input area: a chunk read straight into it is not copied again. */
  get inputArea(): Uint8Array {
    return this.views.u8.subarray(this.inputPtr, this.inputPtr + this.sizes.chunkBytes);
  }

  /**
   * Copies a chunk of whole lines in (unless it was read into the input area) and packs it (a BOM at file start skipped, a CR before each LF
   * dropped, as packLinesInPlace does); null, with nothing kept, when the general path must take it:
   * a chunk larger than the areas, more records than they hold, or an over-long line (an error
   * record, whose message the general path writes).
   */
  pack(chunk: Uint8Array, atFileStart: boolean, maxRecordBytes: number): FusedChunk | null {
    this.records = -1;
    if (chunk.length > this.sizes.chunkBytes) return null;
    const { u8, u32 } = this.views;
    if (chunk.buffer !== u8.buffer || chunk.byteOffset !== this.inputPtr) u8.set(chunk, this.inputPtr);
    const start = atFileStart && chunk.length >= 3 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf ? 3 : 0;
    u32[this.offsetsPtr >>> 2] = 0;
    const r = this.packer.packInMemory({
      input: this.inputPtr + start,
      length: chunk.length - start,
      final: true,
      out: this.packedPtr,
      offsets: this.offsetsPtr + 4,
      tooLong: this.tooLongPtr,
      base: 0,
      maxRecord: Math.min(maxRecordBytes, 0xffffffff),
      maxRecords: this.sizes.records,
    });
    if (r.tooLong > 0 || r.consumed < chunk.length - start) return null;
    this.records = r.records;
    return { records: r.records };
  }

  /** Routes the packed chunk; its results stay in the memory. */
  route(config: RouterConfig): void {
    if (this.records < 0) throw new Error('FusedLines.route: no chunk packed');
    this.kernel.routeInMemory(config, { bytes: this.packedPtr, offsets: this.offsetsPtr, count: this.records, base: 0, experts: this.expertsPtr, scores: this.scoresPtr, conf: this.confPtr });
  }

  /** Writes the routed chunk's output records, the first numbered `firstIndex`, and returns its records per expert. */
  format(out: ByteOutput, firstIndex: number, numExperts: number): Uint32Array {
    if (this.records < 0) throw new Error('FusedLines.format: no chunk packed');
    this.formatter.recordsInMemory(out, {
      firstIndex,
      count: this.records,
      experts: this.expertsPtr,
      scores: this.scoresPtr,
      conf: this.confPtr,
      ...(this.includeText ? { text: { bytes: this.packedPtr, offsets: this.offsetsPtr, base: 0 } } : {}),
    });
    const counts = this.views.u32.subarray(this.countsPtr >>> 2, (this.countsPtr >>> 2) + numExperts);
    counts.fill(0);
    this.kernel.countExpertsInMemory(this.expertsPtr, this.records, this.countsPtr);
    return counts.slice();
  }
}
