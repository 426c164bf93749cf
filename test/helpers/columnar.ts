/** Builds small Parquet (hyparquet-writer) and Arrow IPC (apache-arrow) files for the format tests. */
import { writeFileSync } from 'node:fs';
import { parquetWriteFile } from 'hyparquet-writer';
import type { SchemaElement } from 'hyparquet';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';

/** A Parquet file with columns id (INT32) and text (STRING, nullable), `rowGroupSize` rows per row group. */
export function writeTextParquet(path: string, texts: readonly (string | null)[], rowGroupSize: number): void {
  parquetWriteFile({
    filename: path,
    columnData: [
      { name: 'id', data: Int32Array.from(texts.map((_, i) => i)), type: 'INT32' },
      { name: 'text', data: [...texts], type: 'STRING' },
    ],
    rowGroupSize,
  });
}

/** A Parquet file with a nested column: id, meta { lang, body }, score (DOUBLE). */
export function writeNestedParquet(path: string, rows: { id: number; meta: { lang: string; body: string | null } | null; score: number }[], rowGroupSize: number): void {
  const schema: SchemaElement[] = [
    { name: 'root', num_children: 3 },
    { name: 'id', type: 'INT32', repetition_type: 'REQUIRED' },
    { name: 'meta', repetition_type: 'OPTIONAL', num_children: 2 },
    { name: 'lang', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
    { name: 'body', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
    { name: 'score', type: 'DOUBLE', repetition_type: 'REQUIRED' },
  ];
  parquetWriteFile({
    filename: path,
    schema,
    columnData: [
      { name: 'id', data: Int32Array.from(rows.map((r) => r.id)) },
      { name: 'meta', data: rows.map((r) => r.meta) },
      { name: 'score', data: Float64Array.from(rows.map((r) => r.score)) },
    ],
    rowGroupSize,
  });
}

export async function readParquetRows(path: string): Promise<Record<string, unknown>[]> {
  // a decoder that keeps a leading BOM (the default one drops it)
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  return parquetReadObjects({ file: await asyncBufferFromFile(path), parsers: { stringFromBytes: (b: Uint8Array) => (b === undefined ? b : decoder.decode(b)) } });
}

export function writeJsonl(path: string, texts: readonly string[]): void {
  writeFileSync(path, texts.map((t) => JSON.stringify({ text: t })).join('\n') + '\n');
}
