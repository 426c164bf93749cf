/**
 * The parallel path of `route` (worker threads; a regular file is read by the
 * workers themselves in byte ranges, stdin is cut by the main thread) against
 * an oracle computed here from the CPU reference and RecordFormatter: every
 * record once, in order, the same bytes, for 1 to 4 threads and chunks so tiny
 * that records straddle every chunk and worker boundary.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { computeStatistics } from '../src/backends/cpu-reference/statistics.js';
import { scoreStatistics } from '../src/backends/cpu-reference/score.js';
import { resolveRouterConfig } from '../src/model/router-config.js';
import { RecordFormatter } from '../src/sinks/output-format.js';
import { cutString } from '../src/dashboard/aggregates.js';
import { prng, runCli, tempDir } from './helpers/cli.js';
import { INVALID_UTF8 } from './helpers/input-classes.js';

const tmp = tempDir('moe-parallel-');
afterAll(() => tmp.cleanup());
const CHUNK_ENV = 'MOE_ROUTER_TEST_CHUNK_BYTES';

/** Lines of every awkward kind: CRLF, empty, a lone CR, invalid UTF-8, U+FEFF inside, a few long ones. */
function corpus(lines: number, seed: number): Buffer {
  const rand = prng(seed);
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [Uint8Array.of(0xef, 0xbb, 0xbf)];
  const words = ['alpha', 'Beta', 'x=1;', 'naïve', '東京', '🙂', 'fn(a,b)', '42', '\t', '\ufeff', '"q"', '\\'];
  for (let i = 0; i < lines; i++) {
    const r = rand();
    if (r < 0.05) parts.push(new Uint8Array(0));
    else if (r < 0.08) parts.push(INVALID_UTF8[i % INVALID_UTF8.length]);
    else if (r < 0.09) parts.push(enc.encode('L'.repeat(2000 + Math.floor(rand() * 5000))));
    else if (r < 0.1) parts.push(enc.encode('cr\ronly'));
    else parts.push(enc.encode(Array.from({ length: Math.floor(rand() * 8) }, () => words[Math.floor(rand() * words.length)]).join(' ')));
    parts.push(enc.encode(rand() < 0.2 ? '\r\n' : '\n'));
  }
  parts.push(enc.encode('last line without LF'));
  return Buffer.concat(parts);
}

/** The expected JSONL, from the reference: the file split on LF, CR before LF dropped, the BOM at byte 0 skipped. */
function oracle(file: Buffer, includeText: boolean): Buffer {
  const body = file.subarray(3);
  const records: Uint8Array[] = [];
  for (let start = 0; start < body.length; ) {
    let nl = body.indexOf(10, start);
    if (nl < 0) nl = body.length;
    const end = nl > start && body[nl - 1] === 13 && nl < body.length ? nl - 1 : nl;
    records.push(body.subarray(start, end));
    start = nl + 1;
  }
  const offsets = new Uint32Array(records.length + 1);
  records.forEach((t, i) => (offsets[i + 1] = offsets[i] + t.length));
  const batch = { bytes: Buffer.concat(records), offsets };
  const n = records.length;
  const r = scoreStatistics(resolveRouterConfig(), computeStatistics(batch.bytes, batch.offsets), n);
  const f = new RecordFormatter({ format: 'jsonl', includeText, errorColumn: false });
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(f.record(i, r.experts[i], r.scoresQ16[i], r.confidenceQ16[i], includeText ? records[i] : undefined));
  return Buffer.from(out.join(''), 'utf8');
}

describe('route on worker threads', () => {
  const input = corpus(3000, 99);
  const file = tmp.path('corpus.txt');
  writeFileSync(file, input);
  const want = oracle(input, false);
  const wantText = oracle(input, true);

  it('has an oracle with pinned counts (so a broken oracle cannot pass)', () => {
    expect(want.toString().split('\n').length - 1).toBe(3001);
    expect(input.length).toBeGreaterThan(60_000);
  });

  it.each([1, 2, 3, 4].flatMap((threads) => [0, 7, 64, 1000, 50_000].map((chunk) => [threads, chunk] as const)))(
    'a file read by the workers, %i threads, chunks of %i bytes (0: the default): the reference output',
    async (threads, chunk) => {
      const out = tmp.path(`file-${threads}-${chunk}.jsonl`);
      const r = await runCli(['route', file, '--backend', 'cpu', '--threads', String(threads), '--out', out, '-q'], chunk ? { env: { [CHUNK_ENV]: String(chunk) } } : {});
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(readFileSync(out).equals(want)).toBe(true);
    },
    60_000,
  );

  it.each([[1, 7], [3, 13], [4, 1000]] as const)('stdin cut by the main thread, %i threads, chunks of %i bytes: the reference output', async (threads, chunk) => {
    const r = await runCli(['route', '-', '--backend', 'cpu', '--threads', String(threads), '-q'], { input, env: { [CHUNK_ENV]: String(chunk) } });
    expect(r.code).toBe(0);
    expect(r.stdout.equals(want)).toBe(true);
  }, 60_000);

  it('--include-text with tiny chunks, on the fast kernel and on the reference in the workers', async () => {
    for (const backend of ['cpu', 'cpu-reference']) {
      const r = await runCli(['route', file, '--backend', backend, '--threads', '3', '--include-text', '-q'], { env: { [CHUNK_ENV]: '29' } });
      expect(r.code).toBe(0);
      expect(r.stdout.equals(wantText)).toBe(true);
    }
  }, 60_000);

  it('--max-record-bytes with --on-error skip: the same error records whether the workers read the file or stdin is cut', async () => {
    const args = ['--backend', 'cpu', '--threads', '2', '--max-record-bytes', '3000', '--on-error', 'skip', '-q'];
    const fromFile = await runCli(['route', file, ...args], { env: { [CHUNK_ENV]: '500' } });
    const fromStdin = await runCli(['route', '-', ...args], { input, env: { [CHUNK_ENV]: '700' } });
    expect(fromFile.code).toBe(0);
    expect(fromStdin.code).toBe(0);
    expect(fromFile.stdout.equals(fromStdin.stdout)).toBe(true);
    const lines = fromFile.out.split('\n').filter((l) => l !== '');
    expect(lines.length).toBe(3001);
    const errors = lines.filter((l) => l.includes('"error"'));
    expect(errors.length).toBeGreaterThan(5);
    expect(errors[0]).toMatch(/longer than/);
    // in --batch-records pieces: the same error records; with --on-error fail, every record before the first bad one and nothing after
    const pieces = await runCli(['route', file, ...args, '--batch-records', '3'], { env: { [CHUNK_ENV]: '500' } });
    expect(pieces.code).toBe(0);
    expect(pieces.stdout.equals(fromFile.stdout)).toBe(true);
    const failing = await runCli(['route', file, '--backend', 'cpu', '--threads', '2', '--max-record-bytes', '3000', '--batch-records', '3', '-q']);
    expect(failing.code).not.toBe(0);
    expect(failing.stderr).toMatch(/longer than/);
    expect(failing.out).toBe(lines.slice(0, lines.indexOf(errors[0])).map((l) => `${l}\n`).join(''));
  }, 60_000);

  it('--batch-records on the CPU workers: a chunk holding more records is sent as batches of at most that many, the same output', async () => {
    // one chunk (the file is smaller than the default chunk): exactly ceil(3001 / 100) batches
    const snap = tmp.path('pieces.json');
    const one = await runCli(['route', file, '--backend', 'cpu', '--threads', '2', '--batch-records', '100', '--snapshot', snap, '-q']);
    expect(one.code).toBe(0);
    expect(one.stdout.equals(want)).toBe(true);
    const s = JSON.parse(readFileSync(snap, 'utf8'));
    expect([s.totals.batches, s.totals.recordsOut, s.totals.bytes]).toEqual([31, 3001, input.length]);
    // tiny chunks cut the batches too, with --include-text (each batch's own text) and a bad record kept as an error record
    const snap2 = tmp.path('pieces-text.json');
    const args = ['route', file, '--backend', 'cpu', '--threads', '3', '--batch-records', '7', '--include-text', '--snapshot', snap2, '-q'];
    const many = await runCli(args, { env: { [CHUNK_ENV]: '5000' } });
    expect(many.code).toBe(0);
    expect(many.stdout.equals(wantText)).toBe(true);
    const s2 = JSON.parse(readFileSync(snap2, 'utf8'));
    expect(s2.totals.batches).toBeGreaterThanOrEqual(Math.ceil(3001 / 7));
    expect([s2.totals.recordsOut, s2.totals.bytes]).toEqual([3001, input.length]);
    // the sample the dashboard keeps shows each record's own text, whichever batch it came in
    const lines = wantText.toString().split('\n');
    for (const r of s2.sample.records as { index: number; text: string }[]) expect(r.text).toBe(cutString(JSON.parse(lines[r.index]).text));
    expect(s2.sample.records.length).toBeGreaterThan(10);
  }, 60_000);

  it('jsonl input parsed in the workers, tiny chunks: the same records as one thread with the default chunks', async () => {
    const records = want.toString().split('\n').filter((l) => l !== '').map((l, i) => JSON.stringify({ id: i, body: l }));
    const jl = tmp.path('records.jsonl');
    writeFileSync(jl, records.join('\n') + '\n');
    const one = await runCli(['route', jl, '--field', 'body', '--backend', 'cpu-reference', '--threads', '1', '-q']);
    const many = await runCli(['route', jl, '--field', 'body', '--backend', 'cpu', '--threads', '4', '-q'], { env: { [CHUNK_ENV]: '97' } });
    expect(one.code).toBe(0);
    expect(many.code).toBe(0);
    expect(one.stdout.length).toBeGreaterThan(100_000);
    expect(many.stdout.equals(one.stdout)).toBe(true);
  }, 60_000);

  it('the GPU through the workers (as on a hardware GPU; forced here on the software adapter): the reference output, with tiny chunks and --batch-records pieces', async () => {
    const env = { [CHUNK_ENV]: '5000', MOE_ROUTER_TEST_GPU_WORKERS: '1' };
    const r = await runCli(['route', file, '--backend', 'gpu', '--threads', '3', '--batch-records', '50', '--stats', tmp.path('gpu.json')], { env });
    expect(r.code).toBe(0);
    expect(r.stdout.equals(want)).toBe(true);
    expect(r.stderr).toMatch(/why\s+asked for \(--backend gpu\); 3 worker threads/);
    const s = JSON.parse(readFileSync(tmp.path('gpu.json'), 'utf8'));
    expect([s.backend, s.recordsOut, s.cpuFallbackBatches]).toEqual(['gpu', 3001, 0]);
    const text = await runCli(['route', '-', '--backend', 'gpu', '--threads', '2', '--include-text', '-q'], { input, env: { [CHUNK_ENV]: '333', MOE_ROUTER_TEST_GPU_WORKERS: '1' } });
    expect(text.code).toBe(0);
    expect(text.stdout.equals(wantText)).toBe(true);
  }, 120_000);

  it('a device lost while the workers feed the GPU: later batches on the CPU, one warning, the reference output', async () => {
    const env = { [CHUNK_ENV]: '20000', MOE_ROUTER_TEST_GPU_WORKERS: '1', MOE_ROUTER_TEST_LOSE_DEVICE_AFTER_BATCHES: '3' };
    const r = await runCli(['route', file, '--backend', 'gpu', '--threads', '2', '--batch-records', '100', '--stats', tmp.path('lost.json')], { env });
    expect(r.code).toBe(0);
    expect(r.stdout.equals(want)).toBe(true);
    expect(r.stderr.split('\n').filter((l) => l.includes('warning'))).toHaveLength(1);
    const s = JSON.parse(readFileSync(tmp.path('lost.json'), 'utf8'));
    expect(s.backend).toBe('gpu+cpu');
    // 3001 records in pieces of at most 100 (chunks cut them too): 3 on the GPU, every later one on the CPU
    expect(s.cpuFallbackBatches).toBeGreaterThanOrEqual(Math.ceil(3001 / 100) - 3);
  }, 120_000);

  it('the software adapter in process (lines packed by the line packer, file ranges or stdin chunks of a quarter of --batch-bytes): the reference output', async () => {
    for (const bytes of ['1K', '8K']) {
      const fromFile = await runCli(['route', file, '--backend', 'gpu', '--batch-bytes', bytes, '--batch-records', '40', '-q']);
      expect(fromFile.code).toBe(0);
      expect(fromFile.stdout.equals(want)).toBe(true);
    }
    const fromStdin = await runCli(['route', '-', '--backend', 'gpu', '--batch-bytes', '2K', '--include-text', '-q'], { input });
    expect(fromStdin.code).toBe(0);
    expect(fromStdin.stdout.equals(wantText)).toBe(true);
    const args = ['--max-record-bytes', '3000', '--on-error', 'skip', '-q'];
    const gpu = await runCli(['route', file, '--backend', 'gpu', '--batch-bytes', '4K', ...args]);
    const cpu = await runCli(['route', file, '--backend', 'cpu', ...args]);
    expect(gpu.code).toBe(0);
    expect(gpu.stdout.equals(cpu.stdout)).toBe(true);
  }, 120_000);
});
