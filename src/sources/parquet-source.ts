/**
 * Parquet input (`--format parquet --field COLUMN`), read with hyparquet (an
 * optional dependency, loaded on first use) one row group at a time, so
 * memory stays bounded by the largest row group. The text column's values come
 * as bytes (no JS string per record) and are packed into the engine's batches.
 * `index` is the row number in the file; `--shard I/N` takes whole row groups,
 * so the parts cover the file exactly once. A null is an error record.
 */
import * as zlib from 'node:zlib';
import type { AsyncBuffer, ColumnChunk, Compressors, FileMetaData, SchemaTree } from 'hyparquet';
import { ConfigError, MoeRouterError } from '../errors.js';
import type { ShardSpec } from './shard-range.js';
import { PackedBuilder } from './packed-builder.js';
import type { RecordBatch, RecordError } from './record-reader.js';
import { loadOptional } from './optional-module.js';

type Hyparquet = typeof import('hyparquet');

export function loadHyparquet(purpose = 'reading Parquet (--format parquet)'): Promise<Hyparquet> {
  return loadOptional('hyparquet', purpose, () => import('hyparquet'));
}

export interface ParquetSourceOptions {
  path: string;
  field: string;
  batchBytes: number;
  batchRecords: number;
  shard?: ShardSpec;
}

/** Row groups [first, end) of the file, their first row, and their bytes in the file (for shard stats). */
export interface RowGroupSpan {
  first: number;
  end: number;
  firstRow: number;
  endRow: number;
  startByte: number;
  endByte: number;
}

function chunkStart(c: ColumnChunk): number {
  const m = c.meta_data;
  if (!m) return Number(c.file_offset);
  return Number(m.dictionary_page_offset ?? m.data_page_offset);
}

/** Part I of N: row groups floor(G*I/N) .. floor(G*(I+1)/N); byte bounds are row group starts (0 and the file size at the ends). */
export function rowGroupSpan(md: FileMetaData, fileSize: number, shard: ShardSpec | undefined): RowGroupSpan {
  const g = md.row_groups.length;
  const first = shard ? Math.floor((g * shard.index) / shard.count) : 0;
  const end = shard ? Math.floor((g * (shard.index + 1)) / shard.count) : g;
  const rowsBefore = (k: number): number => md.row_groups.slice(0, k).reduce((a, rg) => a + Number(rg.num_rows), 0);
  const byteAt = (k: number): number => (k === 0 ? 0 : k >= g ? fileSize : Math.min(...md.row_groups[k].columns.map(chunkStart)));
  return { first, end, firstRow: rowsBefore(first), endRow: rowsBefore(end), startByte: byteAt(first), endByte: byteAt(end) };
}

/** Decompressors beyond hyparquet's own snappy: gzip and brotli from node:zlib, zstd from node:zlib or fzstd. */
async function compressorsFor(md: FileMetaData): Promise<Compressors> {
  const codecs = new Set(md.row_groups.flatMap((rg) => rg.columns.map((c) => c.meta_data?.codec ?? 'UNCOMPRESSED')));
  const out: Compressors = {
    GZIP: (input) => zlib.gunzipSync(input),
    BROTLI: (input) => zlib.brotliDecompressSync(input),
  };
  if (codecs.has('ZSTD')) {
    const native = (zlib as unknown as { zstdDecompressSync?: (b: Uint8Array) => Buffer }).zstdDecompressSync;
    if (typeof native === 'function') out.ZSTD = (input) => native.call(zlib, input);
    else {
      const fzstd = await loadOptional('fzstd', `reading ZSTD-compressed Parquet on Node ${process.versions.node}`, () => import('fzstd'));
      out.ZSTD = (input, outputLength) => fzstd.decompress(input, new Uint8Array(outputLength));
    }
  }
  for (const c of codecs) {
    if (c === 'LZ4' || c === 'LZ4_RAW' || c === 'LZO') throw new ConfigError(`Parquet pages compressed with ${c} are not read; rewrite the file with SNAPPY, GZIP, BROTLI or ZSTD`);
  }
  return out;
}

/** The schema node of a dotted column path, or a ConfigError naming the columns there are. */
export function findColumn(schema: SchemaTree, field: string, file: string): SchemaTree {
  let node = schema;
  const path = field.split('.');
  for (let i = 0; i < path.length; i++) {
    const next = node.children.find((c) => c.element.name === path[i]);
    if (!next) {
      const where = i === 0 ? '' : ` inside "${path.slice(0, i).join('.')}"`;
      throw new ConfigError(`${file}: no Parquet column "${field}"${where} (columns: ${node.children.map((c) => c.element.name).join(', ')}); choose one with --field`);
    }
    node = next;
  }
  if (node.children.length > 0 || node.element.type !== 'BYTE_ARRAY') {
    const what = node.children.length > 0 ? 'a group (struct or list)' : `of type ${node.element.type ?? 'unknown'}`;
    throw new ConfigError(`${file}: Parquet column "${field}" is ${what}, not a string column`);
  }
  return node;
}

type Cell = Uint8Array | string | number | bigint | boolean | null | undefined | { [key: string]: Cell } | Cell[];

/** A damaged file: hyparquet's error, with the file and the row group, as a one-line ConfigError. */
async function readingGroup<T>(path: string, rows: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if (err instanceof MoeRouterError) throw err;
    throw new ConfigError(`${path}: cannot read Parquet rows ${rows}: ${err instanceof Error ? err.message : String(err)} (a damaged or unsupported file)`);
  }
}

function describe(v: Cell): string {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' && !(v instanceof Uint8Array) ? 'a struct' : typeof v;
}

export class ParquetSource {
  private constructor(
    private readonly o: ParquetSourceOptions,
    private readonly hp: Hyparquet,
    private readonly file: AsyncBuffer,
    readonly metadata: FileMetaData,
    private readonly compressors: Compressors,
    readonly span: RowGroupSpan,
    readonly size: number,
  ) {}

  static async open(o: ParquetSourceOptions): Promise<ParquetSource> {
    const hp = await loadHyparquet();
    const file = await hp.asyncBufferFromFile(o.path);
    let md: FileMetaData;
    try {
      md = await hp.parquetMetadataAsync(file);
    } catch (err) {
      throw new ConfigError(`${o.path}: not a readable Parquet file: ${(err as Error).message}`);
    }
    findColumn(hp.parquetSchema(md), o.field, o.path);
    const span = rowGroupSpan(md, file.byteLength, o.shard);
    return new ParquetSource(o, hp, file, md, await compressorsFor(md), span, file.byteLength);
  }

  /** Names of the file's top-level columns, in schema order. */
  topLevelColumns(): string[] {
    return this.hp.parquetSchema(this.metadata).children.map((c) => c.element.name);
  }

  private cached: { first: number; end: number; rows: Record<string, unknown>[] } | null = null;

  /**
   * Whole rows [from, to) (every column, as hyparquet decodes them), for the
   * Parquet shard writer. A batch never spans row groups, so one decoded row
   * group is kept at a time: memory stays bounded by the row group.
   */
  async rows(from: number, to: number): Promise<Record<string, unknown>[]> {
    if (!this.cached || from < this.cached.first || to > this.cached.end) {
      const starts = [0];
      for (const rg of this.metadata.row_groups) starts.push(starts[starts.length - 1] + Number(rg.num_rows));
      let g = 0;
      while (g + 1 < starts.length - 1 && starts[g + 1] <= from) g++;
      let h = g + 1;
      while (h < starts.length - 1 && starts[h] < to) h++;
      const first = starts[g];
      const end = starts[h];
      this.cached = null;
      let rows: Record<string, unknown>[] = [];
      await readingGroup(this.o.path, `${first}..${end - 1}`, () => this.hp.parquetRead({
        file: this.file,
        metadata: this.metadata,
        rowStart: first,
        rowEnd: end,
        compressors: this.compressors,
        rowFormat: 'object',
        // strings stay bytes: decoding would drop a leading BOM and replace invalid UTF-8, and the rows must be written back unchanged
        parsers: { stringFromBytes: (b: Uint8Array) => b },
        onComplete: (r: Record<string, unknown>[]) => {
          rows = r;
        },
      }));
      this.cached = { first, end, rows };
    }
    return this.cached.rows.slice(from - this.cached.first, to - this.cached.first);
  }

  /** Reads the text column of one row group: its values as bytes (or null). */
  private async readGroup(firstRow: number, endRow: number): Promise<Cell[]> {
    const path = this.o.field.split('.');
    const values = new Array<Cell>(endRow - firstRow).fill(null);
    // column chunks, not rows: no row objects are built (onComplete would assemble them)
    await readingGroup(this.o.path, `${firstRow}..${endRow - 1}`, () =>
      this.hp.parquetRead({
        file: this.file,
        metadata: this.metadata,
        columns: [path[0]],
        rowStart: firstRow,
        rowEnd: endRow,
        compressors: this.compressors,
        // bytes, not JS strings: they go straight into the packed batch
        parsers: { stringFromBytes: (b: Uint8Array) => b },
        utf8: false,
        onChunk: (chunk) => {
          if (chunk.columnName !== path[0]) return;
          const data = chunk.columnData as ArrayLike<Cell>;
          // a chunk may hold rows outside the range asked for
          for (let r = Math.max(chunk.rowStart, firstRow); r < Math.min(chunk.rowEnd, endRow); r++) values[r - firstRow] = data[r - chunk.rowStart];
        },
      }),
    );
    if (path.length === 1) return values;
    return values.map((top) => {
      let v: Cell = top;
      for (const key of path.slice(1)) {
        if (v === null || v === undefined) return null;
        v = (v as { [key: string]: Cell })[key];
      }
      return v;
    });
  }

  async *batches(): AsyncGenerator<RecordBatch> {
    const { batchBytes, batchRecords, field } = this.o;
    let row = this.span.firstRow;
    for (let g = this.span.first; g < this.span.end; g++) {
      const n = Number(this.metadata.row_groups[g].num_rows);
      const values = await this.readGroup(row, row + n);
      if (values.length !== n) throw new ConfigError(`${this.o.path}: row group ${g} has ${n} rows in its metadata but ${values.length} were read`);
      let builder = new PackedBuilder(Math.min(batchBytes, 1 << 20), Math.min(batchRecords, n));
      let errors: RecordError[] = [];
      let start = row;
      const flush = (): RecordBatch => {
        const count = builder.count;
        const text = builder.take(16, 1);
        const batch: RecordBatch = { firstIndex: start, count, text, errors, inputBytes: text.bytes.length };
        builder = new PackedBuilder(Math.min(batchBytes, 1 << 20), Math.min(batchRecords, n));
        errors = [];
        start += count;
        return batch;
      };
      for (let i = 0; i < n; i++) {
        const v = values[i];
        const size = v instanceof Uint8Array ? v.length : 0;
        if (builder.count > 0 && (builder.byteLength + size > batchBytes || builder.count >= batchRecords)) yield flush();
        if (v instanceof Uint8Array) builder.push(v, 0, v.length);
        else if (typeof v === 'string') builder.pushString(v);
        else {
          errors.push({ local: builder.count, line: row + i + 1, message: `row ${row + i}: column "${field}" is ${describe(v)}, not a string` });
          builder.pushEmpty();
        }
        values[i] = null; // let the row's bytes go once packed
      }
      if (builder.count > 0) yield flush();
      row += n;
    }
  }
}
