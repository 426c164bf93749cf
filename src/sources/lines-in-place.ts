/**
 * The `lines` format for a chunk of whole lines that the caller owns (a
 * worker's chunk): records are packed in place, each line moved down over the
 * line ends before it, so no object is made per line and the records stay in
 * the caller's buffer. The same records, errors and messages as
 * RecordReader's `lines` (test/lines-in-place.test.ts). The WebAssembly
 * packer (wasm/lines.c) does it; its JavaScript twin (lines-js.ts) runs where
 * WebAssembly does not, and with MOE_ROUTER_CPU_KERNEL=js.
 */
import { CPU_KERNEL_ENV } from '../backends/cpu/cpu-backend.js';
import { wasmAvailable } from '../wasm/instance.js';
import { packLinesInPlaceJs } from './lines-js.js';
import type { RecordBatch } from './record-reader.js';
import { WasmLinePacker } from './wasm/wasm-lines.js';

export { packLinesInPlaceJs } from './lines-js.js';

/** This thread's WebAssembly packer: made on first use; null where the JavaScript twin runs. */
let packer: WasmLinePacker | null | undefined;

function wasmPacker(): WasmLinePacker | null {
  if (packer === undefined) {
    packer = null;
    if (wasmAvailable() && process.env[CPU_KERNEL_ENV] !== 'js') {
      try {
        packer = new WasmLinePacker();
      } catch {
        // a runtime that cannot compile the module (no SIMD, say) keeps the JavaScript twin
      }
    }
  }
  return packer;
}

/** Which packer packLinesInPlace runs in this thread. */
export function linePackerKind(): 'wasm' | 'js' {
  return wasmPacker() ? 'wasm' : 'js';
}

export function packLinesInPlace(chunk: Uint8Array, atFileStart: boolean, maxRecordBytes: number): RecordBatch {
  const wasm = wasmPacker();
  return wasm ? wasm.pack(chunk, atFileStart, maxRecordBytes) : packLinesInPlaceJs(chunk, atFileStart, maxRecordBytes);
}
