/**
 * Host side of the WebAssembly `lines` packer (lines.c -> lines.wasm): the
 * same RecordBatch as packLinesInPlaceJs (lines-js.ts), several times faster
 * on short lines, where the JavaScript twin pays a Buffer.indexOf and a
 * copyWithin per line. The chunk goes through the module's memory in windows: a window
 * is copied in, its whole lines packed there, and the packed bytes copied
 * back into the chunk, below the bytes not yet read (packing only shrinks),
 * so the result is still packed in place in the caller's buffer. Where the
 * lines are long, that copying costs more than the twin's per-line calls:
 * such stretches go through the twin's loop instead.
 */
import { align8, growTo, instantiate, type ModuleExports, MemoryViews } from '../../wasm/instance.js';
import type { SharedMemory } from '../../wasm/shared-memory.js';
import { LinePacking, packLinesFrom } from '../lines-js.js';
import type { RecordBatch } from '../record-reader.js';

/** The module, for a SharedMemory to instantiate. */
export const LINES_WASM = new URL('./lines.wasm', import.meta.url);

interface LinesExports extends ModuleExports {
  slack(): number;
  consumed(): number;
  written(): number;
  too_long_count(): number;
  pack_window(
    input: number,
    length: number,
    final: number,
    out: number,
    offsets: number,
    tooLong: number,
    base: number,
    maxRecord: number,
    maxRecords: number,
  ): number;
}

export interface WasmLinePackerSizes {
  /**
   * Chunk bytes copied in per call (default 64 KiB: as fast as 1 MiB on short lines, and a chunk
   * of long lines leaves the module after one window); tests make it tiny to cut lines across windows.
   */
  windowBytes?: number;
  /** Records per call (default 16384). */
  windowRecords?: number;
  /**
   * Lines at least this long on average (default 256 bytes) go through the JavaScript loop
   * instead, a window's worth at a time: it pays ~40 ns per line, the module ~0.15 ns per byte.
   */
  longLineBytes?: number;
  /** A memory shared with the other modules: the module's instance there, the areas above every module's region. */
  shared?: SharedMemory;
}

/** What one packInMemory call did. */
export interface PackedInMemory {
  records: number;
  /** Input bytes used up (its whole lines; all of it when final). */
  consumed: number;
  /** Packed bytes written. */
  written: number;
  /** Entries written into the too-long list (records too long, packed as empty). */
  tooLong: number;
}

export class WasmLinePacker {
  private readonly x: LinesExports;
  private readonly windowBytes: number;
  private readonly windowRecords: number;
  private readonly longLineBytes: number;
  private readonly inPtr: number;
  private readonly outPtr: number;
  private readonly offsetsPtr: number;
  private readonly tooLongPtr: number;
  private readonly views: MemoryViews;
  /** Bytes the module may read past an input and write past an output. */
  readonly slack: number;

  constructor(sizes: WasmLinePackerSizes = {}) {
    this.windowBytes = Math.max(1, Math.floor(sizes.windowBytes ?? 1 << 16));
    this.windowRecords = Math.max(1, Math.floor(sizes.windowRecords ?? 1 << 14));
    this.longLineBytes = sizes.longLineBytes ?? 256;
    this.x = sizes.shared ? sizes.shared.instance<LinesExports>(LINES_WASM) : instantiate<LinesExports>(LINES_WASM);
    const slack = this.x.slack();
    this.slack = slack;
    this.inPtr = align8(sizes.shared?.at ?? this.x.heap_base());
    this.outPtr = align8(this.inPtr + this.windowBytes + slack);
    this.offsetsPtr = align8(this.outPtr + this.windowBytes + slack);
    this.tooLongPtr = align8(this.offsetsPtr + 4 * this.windowRecords);
    const end = this.tooLongPtr + 4 * this.windowRecords;
    sizes.shared?.reserveTo(end);
    growTo(this.x.memory, end);
    this.views = new MemoryViews(this.x.memory);
  }

  /**
   * lines.c's pack_window on areas of the memory (a shared one): the records of
   * input[0, length) packed into `out`, their end offsets (plus `base`) into `offsets`, the indexes
   * of the too-long ones into `tooLong`. Both areas need `slack` bytes past their end.
   */
  packInMemory(at: { input: number; length: number; final: boolean; out: number; offsets: number; tooLong: number; base: number; maxRecord: number; maxRecords: number }): PackedInMemory {
    const x = this.x;
    const records = x.pack_window(at.input, at.length, at.final ? 1 : 0, at.out, at.offsets, at.tooLong, at.base, at.maxRecord, at.maxRecords);
    return { records, consumed: x.consumed(), written: x.written(), tooLong: x.too_long_count() };
  }

  /** packLinesInPlaceJs, in WebAssembly: the same arguments, the same batch, `chunk` packed in place. */
  pack(chunk: Uint8Array, atFileStart: boolean, maxRecordBytes: number): RecordBatch {
    const { x, inPtr, outPtr, offsetsPtr, tooLongPtr, windowBytes, windowRecords } = this;
    const { u8: mem8, u32: mem32 } = this.views;
    const p = new LinePacking(chunk, atFileStart, maxRecordBytes);
    const { buf } = p;
    const len = buf.length;
    // The module compares lengths as u32; no record in a window is longer than the window.
    const maxRecord = Math.min(maxRecordBytes, windowBytes);
    let pos = p.start;
    // Whether the stretch ahead goes through the JavaScript loop: lines long enough that a
    // memchr and a memmove each cost less than copying them into the module and back.
    let js = false;
    while (pos < len) {
      if (!js) {
        const take = Math.min(windowBytes, len - pos);
        mem8.set(buf.subarray(pos, pos + take), inPtr);
        const got = x.pack_window(inPtr, take, pos + take === len ? 1 : 0, outPtr, offsetsPtr, tooLongPtr, p.w, maxRecord, windowRecords);
        if (got > 0) {
          p.room(got);
          p.offsets.set(mem32.subarray(offsetsPtr >>> 2, (offsetsPtr >>> 2) + got), p.n + 1);
          const bad = x.too_long_count();
          for (let k = 0; k < bad; k++) p.tooLong(p.n + mem32[(tooLongPtr >>> 2) + k]);
          const written = x.written();
          // w + written <= pos + consumed: the packed bytes land below every byte not yet read.
          buf.set(mem8.subarray(outPtr, outPtr + written), p.w);
          p.w += written;
          p.n += got;
          const consumed = x.consumed();
          pos += consumed;
          js = consumed >= this.longLineBytes * got;
          continue;
        }
        // No LF in a whole window: a line longer than the window, for the loop below.
      }
      // A window's worth of lines (at least one) through the JavaScript loop.
      const from = pos;
      const fromRecord = p.n;
      pos = packLinesFrom(p, pos, Math.min(len, pos + windowBytes));
      js = pos - from >= this.longLineBytes * (p.n - fromRecord);
    }
    return p.batch();
  }
}
