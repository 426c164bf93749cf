/** Arrow IPC input (file and stream formats) and the packedFromArrow helper (zero copy, slices, nulls, LargeUtf8, Utf8View, dictionaries). */
import { readFileSync, writeFileSync } from 'node:fs';
import { Field, LargeUtf8, Struct, Table, tableFromArrays, tableToIPC, Utf8, Utf8View, vectorFromArray, RecordBatch as ArrowRecordBatch } from 'apache-arrow';
import { afterAll, describe, expect, it } from 'vitest';
import { packedFromArrow, packStrings, SwitchedMoE } from '../src/index.js';
import { jsonl, runCli, tempDir } from './helpers/cli.js';
import { randomText, rng } from './helpers/random.js';
import { writeJsonl } from './helpers/columnar.js';

const tmp = tempDir('moe-arrow-');
afterAll(() => tmp.cleanup());
const CPU = ['--backend', 'cpu', '-q'];

const r = rng(77);
const TEXTS = Array.from({ length: 250 }, () => randomText(r, 40));
TEXTS[0] = 'hello world';
const jl = tmp.path('t.jsonl');
writeJsonl(jl, TEXTS);

/** A table of id + text, in record batches of `per` rows. */
function table(texts: readonly (string | null)[], per: number): Table {
  const batches: ArrowRecordBatch[] = [];
  for (let i = 0; i < texts.length; i += per) {
    const part = texts.slice(i, i + per);
    const t = new Table({ id: vectorFromArray(part.map((_, k) => i + k)), text: vectorFromArray(part, new Utf8()) });
    batches.push(...t.batches);
  }
  return new Table(batches);
}

describe('--format arrow (Arrow IPC)', () => {
  const file = tmp.path('t.arrow');
  const stream = tmp.path('t.arrows');
  writeFileSync(file, tableToIPC(table(TEXTS, 64), 'file'));
  writeFileSync(stream, tableToIPC(table(TEXTS, 64), 'stream'));

  it('the file and the stream formats route exactly as the same texts in JSONL (on stdin too)', async () => {
    const ref = await runCli(['route', jl, ...CPU]);
    expect(ref.code).toBe(0);
    expect(jsonl(ref.out)[0]).toEqual({ index: 0, expert: 1, complexity: 0.2463836669921875, confidence: 0.488739013671875 });
    for (const args of [[file], [stream], [file, '--format', 'arrow', '--field', 'text', '--batch-records', '10'], [stream, '--batch-bytes', '1K']]) {
      const res = await runCli(['route', ...args, ...CPU]);
      expect(res.stderr).toBe('');
      expect(res.code).toBe(0);
      expect(res.out).toBe(ref.out);
    }
    const piped = await runCli(['route', '-', ...CPU], { input: readFileSync(stream) });
    expect(piped.code).toBe(0);
    expect(piped.out).toBe(ref.out);
    const pipedFile = await runCli(['route', '-', ...CPU], { input: readFileSync(file) });
    expect(pipedFile.code).toBe(2);
    expect(pipedFile.stderr).toContain('is an Arrow IPC file, which is read from a file');
  });

  it('nulls are error records; a nested struct column by a.b; dictionary strings; a wrong column is a clear error', async () => {
    const f = tmp.path('n.arrow');
    const t = new Table({
      text: vectorFromArray(['hello world', null, ''], new Utf8()),
      tag: vectorFromArray(['hello world', 'x', 'hello world']),
      meta: vectorFromArray([{ body: 'hello world' }, { body: null }, null], new Struct([new Field('body', new Utf8(), true)])),
    });
    writeFileSync(f, tableToIPC(t, 'file'));
    const fail = await runCli(['route', f, '--backend', 'cpu', '-q']);
    expect(fail.code).toBe(1);
    expect(fail.stderr).toContain('n.arrow:2: row 1: column "text" is null, not a string');
    const skip = await runCli(['route', f, ...CPU, '--on-error', 'skip']);
    expect(jsonl(skip.out)).toEqual([
      { index: 0, expert: 1, complexity: 0.2463836669921875, confidence: 0.488739013671875 },
      { index: 1, error: 'line 2: row 1: column "text" is null, not a string' },
      { index: 2, expert: 0, complexity: 0, confidence: 1 },
    ]);
    const nested = jsonl((await runCli(['route', f, ...CPU, '--on-error', 'skip', '--field', 'meta.body'])).out);
    expect(nested.map((x) => x.expert ?? x.error)).toEqual([1, 'line 2: row 1: column "meta.body" is null, not a string', 'line 3: row 2: column "meta.body" is null, not a string']);
    const dict = jsonl((await runCli(['route', f, ...CPU, '--field', 'tag'])).out);
    expect(dict.map((x) => x.complexity)).toEqual([0.2463836669921875, jsonl((await runCli(['route', '-', ...CPU], { input: 'x\n' })).out)[0].complexity, 0.2463836669921875]);
    const none = await runCli(['route', f, ...CPU, '--field', 'nope']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('no column "nope"');
    expect(none.stderr).toContain('text, tag, meta');
  });

  it('a truncated Arrow stream is a one-line error after the rows it could read, exit 2', async () => {
    const bytes = tableToIPC(table(TEXTS, 100), 'stream');
    const cut = tmp.path('cut.arrows');
    writeFileSync(cut, bytes.subarray(0, bytes.length - 200));
    const res = await runCli(['route', cut, ...CPU]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/^moe-router: error: .*cut\.arrows: cannot read the Arrow record batch after row 200: .*\(a damaged or truncated input\)\n$/);
  });

  it('--shard and --shards are refused for Arrow input with a clear message', async () => {
    const a = await runCli(['route', file, ...CPU, '--shard', '0/2']);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain('is Arrow IPC: route it whole');
    const b = await runCli(['route', file, ...CPU, '--shards', tmp.path('sh')]);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain('--shards with Arrow IPC input is not supported');
  });
});

describe('packedFromArrow', () => {
  const texts = ['hello world', null, 'Größe 東京 — a longer value past twelve bytes', '', 'x'];

  it('a Utf8 column: zero copy (the engine reads Arrow\'s own buffers), nulls listed', () => {
    const v = vectorFromArray(texts, new Utf8());
    const p = packedFromArrow(v);
    const d = v.data[0];
    expect(p.bytes.buffer).toBe(d.values.buffer);
    expect(p.offsets.buffer).toBe(d.valueOffsets.buffer);
    expect(p.nulls).toEqual([1]);
    expect([...p.offsets]).toEqual([...packStrings(texts.map((t) => t ?? '')).offsets]);
  });

  it('slices, LargeUtf8 (64-bit offsets), Utf8View and dictionaries give the same packed batch', () => {
    const want = (from: number, to: number) => packStrings(texts.slice(from, to).map((t) => t ?? ''));
    for (const type of [new Utf8(), new LargeUtf8(), new Utf8View()]) {
      const v = vectorFromArray(texts, type);
      const whole = packedFromArrow(v);
      expect({ bytes: [...whole.bytes], offsets: [...whole.offsets] }).toEqual({ bytes: [...want(0, 5).bytes], offsets: [...want(0, 5).offsets] });
      const s = packedFromArrow(v.slice(1, 4));
      expect({ bytes: [...s.bytes], offsets: [...s.offsets], nulls: s.nulls }).toEqual({ bytes: [...want(1, 4).bytes], offsets: [...want(1, 4).offsets], nulls: [0] });
    }
    const dict = tableFromArrays({ t: ['b', 'a', 'b', 'ccc'] }).getChild('t');
    if (!dict) throw new Error('no column');
    expect(String(dict.type)).toContain('Dictionary');
    const d = packedFromArrow(dict);
    expect(Buffer.from(d.bytes).toString()).toBe('babccc');
    expect([...d.offsets]).toEqual([0, 1, 2, 3, 6]);
  });

  it('a vector of several chunks is concatenated; routing it equals routing the strings', async () => {
    const a = vectorFromArray(TEXTS.slice(0, 100), new Utf8());
    const b = vectorFromArray(TEXTS.slice(100), new Utf8());
    const v = a.concat(b);
    expect(v.data).toHaveLength(2);
    const moe = new SwitchedMoE({ backend: 'cpu' });
    try {
      const viaArrow = await moe.routeBatch(packedFromArrow(v));
      const viaStrings = await moe.routeBatch(TEXTS);
      expect([...viaArrow.scoresQ16]).toEqual([...viaStrings.scoresQ16]);
      expect([...viaArrow.experts]).toEqual([...viaStrings.experts]);
    } finally {
      await moe.dispose();
    }
  });

  it('a non-string column is refused with the types it takes', () => {
    expect(() => packedFromArrow(vectorFromArray([1, 2, 3]))).toThrow(/cannot be routed: it must hold strings \(Utf8, LargeUtf8, Utf8View, Binary/);
  });
});
