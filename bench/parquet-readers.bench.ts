/**
 * Which Parquet reader: hyparquet (pure JS, 0.5 MB, no dependencies) or
 * parquet-wasm (Rust/WASM, 15 MB, + apache-arrow 12 MB). Both read the text
 * column of a generated file row group by row group into packed batches; the
 * second table adds CPU routing, as `moe-router route` does.
 *
 *   npx tsx bench/parquet-readers.bench.ts [rows]
 *
 * Best of 5, interleaved (the machine is shared: the best run is the least disturbed).
 */
import { existsSync, openAsBlob, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetWriteFile } from 'hyparquet-writer';
import { asyncBufferFromFile, parquetMetadataAsync } from 'hyparquet';
import * as pw from 'parquet-wasm';
import { tableFromIPC } from 'apache-arrow';
import { ParquetSource } from '../src/sources/parquet-source.js';
import { packedFromArrow } from '../src/sources/arrow-packed.js';
import { SwitchedMoE } from '../src/router/switched-moe.js';
import type { PackedBatch } from '../src/model/packed-batch.js';
import { rng } from '../test/helpers/random.js';

const rows = Number(process.argv[2] ?? 200_000);
const file = join(tmpdir(), `moe-bench-v2-${rows}.parquet`);
if (!existsSync(file)) {
  const words = 'the of and to in is that for it as was with be by on not he this are or his from at which but have an they you were her she there been one all we their has would when if so no will more can Größe 東京 naïve café 42 3.14 x=1; fn(a,b)'.split(' ');
  const rnd = rng(7);
  const text = Array.from({ length: rows }, () => Array.from({ length: 30 + Math.floor(rnd() * 150) }, () => words[Math.floor(rnd() * words.length)]).join(' '));
  parquetWriteFile({ filename: file, columnData: [{ name: 'id', data: Int32Array.from({ length: rows }, (_, i) => i), type: 'INT32' }, { name: 'text', data: text, type: 'STRING' }], rowGroupSize: 20_000 });
}

type Reader = (each: (p: PackedBatch) => Promise<void> | void) => Promise<number>;

const hyparquet: Reader = async (each) => {
  const src = await ParquetSource.open({ path: file, field: 'text', batchBytes: 8 << 20, batchRecords: 65536 });
  let bytes = 0;
  for await (const b of src.batches()) {
    bytes += b.text.bytes.length;
    await each(b.text);
  }
  return bytes;
};

const parquetWasm: Reader = async (each) => {
  const buf = readFileSync(file); // parquet-wasm's synchronous reader takes the whole file
  const md = await parquetMetadataAsync(await asyncBufferFromFile(file));
  let bytes = 0;
  for (let g = 0; g < md.row_groups.length; g++) {
    const t = tableFromIPC(pw.readParquet(buf, { rowGroups: [g], columns: ['text'] }).intoIPCStream());
    const col = t.getChild('text');
    if (!col) throw new Error('no text column');
    for (const d of col.data) {
      const p = packedFromArrow(d);
      bytes += p.bytes.length;
      await each(p);
    }
  }
  return bytes;
};

/** parquet-wasm's async reader over a Blob of the file: reads only the row group asked for (bounded memory). */
const parquetWasmBlob: Reader = async (each) => {
  const f = await pw.ParquetFile.fromFile(await openAsBlob(file));
  let bytes = 0;
  for (let g = 0; g < f.metadata().numRowGroups(); g++) {
    const t = tableFromIPC((await f.read({ rowGroups: [g], columns: ['text'] })).intoIPCStream());
    const col = t.getChild('text');
    if (!col) throw new Error('no text column');
    for (const d of col.data) {
      const p = packedFromArrow(d);
      bytes += p.bytes.length;
      await each(p);
    }
  }
  return bytes;
};

const moe = new SwitchedMoE({ backend: 'cpu' });
const route = async (p: PackedBatch): Promise<void> => {
  await moe.routeBatch(p, { backend: 'cpu' });
};
const results: Record<string, number[]> = {};
for (let run = 0; run < 5; run++) {
  for (const [name, reader] of [['hyparquet', hyparquet], ['parquet-wasm (whole file in memory)', parquetWasm], ['parquet-wasm (Blob, by row group)', parquetWasmBlob]] as const) {
    for (const withRouting of [false, true]) {
      const t0 = performance.now();
      const bytes = await reader(withRouting ? route : () => undefined);
      const s = (performance.now() - t0) / 1000;
      (results[`${name}${withRouting ? ', + CPU routing' : ', read + pack'}`] ??= []).push(bytes / 1e6 / s);
    }
  }
}
await moe.dispose();
console.log(`${rows} rows, ${(readFileSync(file).length / 1e6).toFixed(1)} MB file (snappy), node ${process.version}`);
for (const [k, v] of Object.entries(results)) console.log(`${k.padEnd(56)} best ${Math.max(...v).toFixed(0).padStart(5)} MB/s of text  (median ${v.sort((a, b) => a - b)[2].toFixed(0)})`);
