/**
 * Arrow IPC input (file or stream format) by column name, read with
 * apache-arrow (an optional dependency, loaded on first use) one record batch
 * at a time. A Utf8 column goes into the engine's packed batch with no copy of
 * its bytes (packedFromArrow); a null is an error record; `index` is the row
 * number in the input.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { ConfigError, MoeRouterError } from '../errors.js';
import type { PackedBatch } from '../model/packed-batch.js';
import { arrowChild, arrowIsNull, packedFromArrow, type ArrowDataLike } from './arrow-packed.js';
import { loadOptional } from './optional-module.js';
import type { RecordBatch, RecordError } from './record-reader.js';

export interface ArrowSourceOptions {
  name: string;
  field: string;
  batchBytes: number;
  batchRecords: number;
  /** A file (random access: the file format's footer) or a byte stream (the stream format). */
  input: { path: string } | { stream: AsyncIterable<Uint8Array> };
}

function sub(p: PackedBatch, from: number, to: number): PackedBatch {
  const base = p.offsets[from];
  if (from === 0) return { bytes: p.bytes.subarray(0, p.offsets[to]), offsets: p.offsets.subarray(0, to + 1) };
  const offsets = new Uint32Array(to - from + 1);
  for (let i = from; i <= to; i++) offsets[i - from] = p.offsets[i] - base;
  return { bytes: p.bytes.subarray(base, p.offsets[to]), offsets };
}

export async function* arrowBatches(o: ArrowSourceOptions): AsyncGenerator<RecordBatch> {
  const arrow = await loadOptional('apache-arrow', 'reading Arrow IPC (--format arrow)', () => import('apache-arrow'));
  let fh: FileHandle | null = null;
  try {
    let reader;
    try {
      if ('path' in o.input) {
        fh = await open(o.input.path, 'r');
        reader = await arrow.RecordBatchReader.from(fh);
      } else {
        reader = await arrow.RecordBatchReader.from(o.input.stream);
      }
      await reader.open();
    } catch (err) {
      if (err instanceof Error && (err as NodeJS.ErrnoException).code) throw err;
      throw new ConfigError(`${o.name}: not a readable Arrow IPC file or stream: ${(err as Error).message}`);
    }
    const path = o.field.split('.');
    let row = 0;
    let checked = false;
    const it = reader[Symbol.asyncIterator]();
    for (;;) {
      let next;
      try {
        next = await it.next();
      } catch (err) {
        if (err instanceof MoeRouterError) throw err;
        throw new ConfigError(`${o.name}: cannot read the Arrow record batch after row ${row}: ${err instanceof Error ? err.message : String(err)} (a damaged or truncated input)`);
      }
      if (next.done) break;
      const rb = next.value;
      const { data: col, parents } = arrowChild(rb.data as unknown as ArrowDataLike, path, o.field);
      checked = true;
      const packed = packedFromArrow(col);
      const nullRows = new Set(packed.nulls);
      if (parents.length > 0) for (let i = 0; i < col.length; i++) if (arrowIsNull(col, parents, i)) nullRows.add(i);
      let from = 0;
      while (from < col.length) {
        let to = from + 1;
        const limit = Math.min(col.length, from + o.batchRecords);
        while (to < limit && packed.offsets[to + 1] - packed.offsets[from] <= o.batchBytes) to++;
        const errors: RecordError[] = [];
        for (let i = from; i < to; i++) {
          if (nullRows.has(i)) errors.push({ local: i - from, line: row + i + 1, message: `row ${row + i}: column "${o.field}" is null, not a string` });
        }
        const text = sub(packed, from, to);
        yield { firstIndex: row + from, count: to - from, text, errors, inputBytes: text.bytes.length };
        from = to;
      }
      row += col.length;
    }
    if (!checked) {
      // no record batch at all: still say when the column does not exist
      const fields = reader.schema?.fields.map((f) => f.name) ?? [];
      if (!fields.includes(path[0])) throw new ConfigError(`${o.name}: no Arrow column "${o.field}" (columns: ${fields.join(', ')}); choose one with --field`);
    }
  } finally {
    await fh?.close();
  }
}
