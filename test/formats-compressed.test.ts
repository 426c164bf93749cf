/** gzip and zstd input, detected by magic bytes (files and stdin), streamed into the same reader; bzip2/xz/zip refused. */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, jsonl, ROOT, runCli, tempDir } from './helpers/cli.js';

const tmp = tempDir('moe-compressed-');
afterAll(() => tmp.cleanup());

const CPU = ['--backend', 'cpu', '-q'];
// 400 JSONL records of awkward text; corpus.jsonl.zst was made from it with the zstd CLI (zstd -19)
const PLAIN = join(ROOT, 'test', 'fixtures', 'corpus.jsonl');
const ZST = join(ROOT, 'test', 'fixtures', 'corpus.jsonl.zst');
const plainBytes = readFileSync(PLAIN);

describe('compressed input', () => {
  const gz = tmp.path('corpus.jsonl.gz');
  writeFileSync(gz, gzipSync(plainBytes));

  it('a .jsonl.gz and a .jsonl.zst route exactly as the plain .jsonl (format from the name under the suffix)', async () => {
    const ref = await runCli(['route', PLAIN, ...CPU, '--include-text']);
    expect(ref.code).toBe(0);
    expect(jsonl(ref.out)).toHaveLength(400);
    for (const f of [gz, ZST]) {
      const res = await runCli(['route', f, ...CPU, '--include-text', '--batch-bytes', '4K']);
      expect(res.stderr).toBe('');
      expect(res.code).toBe(0);
      expect(res.out).toBe(ref.out);
    }
    // the pure-JS decoder (fzstd: Node < 22.15) gives the same
    const fz = await runCli(['route', ZST, ...CPU, '--include-text'], { env: { MOE_ROUTER_TEST_FORCE_FZSTD: '1' } });
    expect(fz.code).toBe(0);
    expect(fz.out).toBe(ref.out);
  });

  it('is detected by its first bytes whatever the name, on stdin too; --format still applies', async () => {
    const ref = await runCli(['route', PLAIN, ...CPU]);
    const noName = tmp.path('data.bin');
    writeFileSync(noName, readFileSync(ZST));
    const byName = await runCli(['route', noName, '--format', 'jsonl', ...CPU]);
    expect(byName.code).toBe(0);
    expect(byName.out).toBe(ref.out);
    for (const input of [readFileSync(gz), readFileSync(ZST)]) {
      const res = await runCli(['route', '-', '--format', 'jsonl', ...CPU], { input });
      expect(res.code).toBe(0);
      expect(res.out).toBe(ref.out);
    }
    // lines (the default for stdin): one record per line of the decompressed text
    const lines = await runCli(['route', ...CPU], { input: readFileSync(gz) });
    expect(jsonl(lines.out)).toHaveLength(400);
  });

  it('--shards from a compressed input writes plain shards with the records unchanged', async () => {
    const dir = tmp.path('shards');
    const res = await runCli(['route', gz, ...CPU, '--shards', dir]);
    expect(res.code).toBe(0);
    const routed = jsonl(res.out);
    const lines = plainBytes.toString('utf8').split('\n').slice(0, -1);
    for (let e = 0; e < 3; e++) {
      const want = lines.filter((_, i) => routed[i].expert === e);
      expect(readFileSync(join(dir, `expert-${e}.jsonl`), 'utf8')).toBe(want.map((l) => l + '\n').join(''));
    }
  });

  it('a zstd file made by the zstd CLI at test time (when present) and a multi-member gzip', async () => {
    const big = tmp.path('big.txt');
    const text = Array.from({ length: 20000 }, (_, i) => `line ${i} ${'abc Déf 東京 '.repeat(i % 23)}`).join('\n') + '\n';
    writeFileSync(big, text);
    const ref = await runCli(['route', big, ...CPU]);
    // two gzip members concatenated are one stream (gzip -c a b > ab.gz)
    const half = text.indexOf('\n', text.length >> 1) + 1;
    const multi = tmp.path('multi.gz');
    writeFileSync(multi, Buffer.concat([gzipSync(text.slice(0, half)), gzipSync(text.slice(half))]));
    const m = await runCli(['route', multi, ...CPU, '--batch-bytes', '64K']);
    expect(m.code).toBe(0);
    expect(m.out).toBe(ref.out);
    const hasZstd = spawnSync('zstd', ['--version']).status === 0;
    if (hasZstd) {
      expect(spawnSync('zstd', ['-q', '-3', big, '-o', big + '.zst']).status).toBe(0);
      for (const env of [{}, { MOE_ROUTER_TEST_FORCE_FZSTD: '1' }] as Record<string, string>[]) {
        const z = await runCli(['route', big + '.zst', ...CPU, '--batch-bytes', '64K'], { env });
        expect(z.code).toBe(0);
        expect(z.out).toBe(ref.out);
      }
    }
  });

  it('streams: 128 MiB of gzip-compressed text route in less memory than the text (peak RSS from --stats)', async () => {
    const line = Buffer.from('The quick brown fox jumps over the lazy dog; Größe 東京 x=1; '.repeat(60) + '\n');
    const text = Buffer.alloc(128 << 20);
    for (let at = 0; at < text.length; at += line.length) line.copy(text, at);
    text[text.length - 1] = 10;
    const f = tmp.path('huge.gz');
    writeFileSync(f, gzipSync(text, { level: 1 }));
    const lines = text.toString('latin1').split('\n').length - 1;
    const stats = tmp.path('huge-stats.json');
    // through sh, not exec'd: a child forked from this (big) test process would start its peak RSS at ours
    const res = spawnSync('sh', ['-c', `"${process.execPath}" "${CLI}" route "${f}" --backend cpu -q -o /dev/null --stats "${stats}" --batch-bytes 1M; exit $?`]);
    expect(res.stderr.toString()).toBe('');
    expect(res.status).toBe(0);
    const s = JSON.parse(readFileSync(stats, 'utf8')) as { recordsIn: number; bytes: number; maxRssBytes: number };
    expect(s.recordsIn).toBe(lines);
    expect(s.bytes).toBe(text.length);
    // the whole text would be 128 MiB; streamed, the process stays near its 1 MiB batches (about 100 MiB measured, Node itself included)
    expect(s.maxRssBytes).toBeLessThan(128 << 20);
  });

  it('--shard on a compressed file is refused with a clear message', async () => {
    const res = await runCli(['route', gz, ...CPU, '--shard', '0/2']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('--shard cannot split');
    expect(res.stderr).toContain('gzip-compressed, and a compressed stream cannot be split by byte ranges');
    expect(res.out).toBe('');
  });

  it('truncated or corrupt data: a one-line error naming the input, exit 2, never garbage routed with exit 0', async () => {
    const whole = readFileSync(gz);
    const cut = tmp.path('cut.jsonl.gz');
    writeFileSync(cut, whole.subarray(0, whole.length - 40));
    const a = await runCli(['route', cut, ...CPU]);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/^moe-router: error: .*cut\.jsonl\.gz: corrupt or truncated gzip data: unexpected end of file\n$/);
    const zcut = tmp.path('cut.jsonl.zst');
    const z = readFileSync(ZST);
    writeFileSync(zcut, z.subarray(0, z.length - 100));
    for (const env of [{}, { MOE_ROUTER_TEST_FORCE_FZSTD: '1' }] as Record<string, string>[]) {
      const b = await runCli(['route', zcut, ...CPU], { env });
      expect(b.code).toBe(2);
      expect(b.stderr).toMatch(/cut\.jsonl\.zst: corrupt or truncated zstd data/);
    }
  });

  it.each([
    ['bzip2', Buffer.from('BZh91AY&SY'), 'bzcat'],
    ['xz', Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0, 0]), 'xzcat'],
    ['zip', Buffer.from([0x50, 0x4b, 0x03, 0x04, 0, 0, 0, 0]), 'unzip -p'],
  ])('%s input is refused with a hint (file and stdin)', async (kind, head, hint) => {
    const f = tmp.path(`x.${kind}`);
    writeFileSync(f, Buffer.concat([head, Buffer.alloc(100, 7)]));
    for (const res of [await runCli(['route', f, ...CPU]), await runCli(['route', '-', ...CPU], { input: readFileSync(f) })]) {
      expect(res.code).toBe(2);
      expect(res.stderr).toContain(hint);
      expect(res.out).toBe('');
    }
  });

  it('without fzstd on an old Node, zstd input says what to install', async () => {
    const res = await runCli(['route', ZST, ...CPU], { env: { MOE_ROUTER_TEST_FORCE_FZSTD: '1', MOE_ROUTER_TEST_HIDE_MODULES: 'fzstd' } });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/^moe-router: error: reading zstd-compressed input on Node .* needs the optional package fzstd, which is not installed: npm install fzstd\n$/);
  });
});
