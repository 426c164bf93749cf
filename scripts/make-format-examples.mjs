// Makes the sample corpora of the README's "Corpus formats" section from examples/corpus.jsonl:
// examples/corpus.parquet (FineWeb-like columns, row groups of 16 rows) and examples/corpus.jsonl.gz.
//   node scripts/make-format-examples.mjs
import { readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { parquetWriteFile } from 'hyparquet-writer';

const root = new URL('../examples/', import.meta.url);
const jsonl = readFileSync(new URL('corpus.jsonl', root));
writeFileSync(new URL('corpus.jsonl.gz', root), gzipSync(jsonl, { level: 9 }));
const rows = jsonl.toString('utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
parquetWriteFile({
  filename: new URL('corpus.parquet', root).pathname,
  columnData: [
    { name: 'id', data: rows.map((r) => `<urn:uuid:${String(r.id).padStart(8, '0')}>`), type: 'STRING' },
    { name: 'text', data: rows.map((r) => r.text), type: 'STRING' },
    { name: 'url', data: rows.map((r, i) => `https://example.org/page/${i}`), type: 'STRING' },
    { name: 'language_score', data: Float64Array.from(rows.map((_, i) => 0.5 + (i % 50) / 100)), type: 'DOUBLE' },
  ],
  rowGroupSize: 16,
});
