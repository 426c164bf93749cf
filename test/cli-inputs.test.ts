/**
 * Input that is not what it seems (issue 6, section 2, and the input
 * messages of section 6), driven through the real binary on real files:
 * compressed and columnar inputs by their magic bytes, the real end of a
 * file, records without end, unterminated CSV quotes, the BOM, --shard line
 * numbers for csv/tsv, duplicate CSV header names, stdin on a terminal, an
 * empty path.
 */
import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, jsonl, ROOT, runCli, tempDir, errorLine, shell } from './helpers/cli.js';
import { SwitchedMoE } from '../src/index.js';

const tmp = tempDir('moe-inputs-');
afterAll(() => tmp.cleanup());

const CPU = ['--backend', 'cpu'];

async function route(texts: (string | Uint8Array)[]): Promise<{ expert: number; complexity: number; confidence: number }[]> {
  const moe = new SwitchedMoE({ backend: 'cpu' });
  const bytes = texts.map((t) => (typeof t === 'string' ? Buffer.from(t) : Buffer.from(t)));
  const offsets = new Uint32Array(bytes.length + 1);
  bytes.forEach((b, i) => (offsets[i + 1] = offsets[i] + b.length));
  const r = await moe.routeBatch({ bytes: Buffer.concat(bytes), offsets });
  await moe.dispose();
  return Array.from(r.experts, (expert, i) => ({ expert, complexity: r.scoresQ16[i] / 65536, confidence: r.confidenceQ16[i] / 65536 }));
}

const JSONL_TEXT = Array.from({ length: 2000 }, (_, i) => JSON.stringify({ text: `record ${i} with some words` })).join('\n') + '\n';

/** A file of the kind, made by the real tool where it is installed, else its documented first bytes and some payload. */
function containerFile(kind: string): Buffer {
  const payload = Buffer.from(JSONL_TEXT);
  const tool = (cmd: string, args: string[]): Buffer | null => {
    try {
      return execFileSync(cmd, args, { input: payload, maxBuffer: 1 << 26 });
    } catch {
      return null;
    }
  };
  switch (kind) {
    case 'gzip':
      return gzipSync(payload);
    case 'zstd':
      return tool('zstd', ['-q', '-c']) ?? Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x24, 0x00]), payload]);
    case 'bzip2':
      return tool('bzip2', ['-c']) ?? Buffer.concat([Buffer.from('BZh91AY&SY'), payload]);
    case 'xz':
      return tool('xz', ['-c']) ?? Buffer.concat([Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00, 0x04]), payload]);
    case 'zip':
      return Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x00, 0x00]), payload]);
    case 'parquet':
      return Buffer.concat([Buffer.from('PAR1'), payload, Buffer.from([0, 0, 0, 0]), Buffer.from('PAR1')]);
    case 'arrow-file':
      return Buffer.concat([Buffer.from('ARROW1\0\0'), payload]);
    case 'arrow-stream':
      return Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0xff, 0x78, 0x00, 0x00, 0x00]), payload]);
    default:
      throw new Error(kind);
  }
}

// gzip, zstd, Parquet and Arrow are read (test/formats-*.test.ts); what is left is refused with a hint.
describe('compressed input that is not read is refused by its first bytes, whatever its name', () => {
  const cases: [kind: string, name: string, says: string][] = [
    ['bzip2', 'corpus.csv', 'bzcat'],
    ['bzip2', 'looks-like-text.jsonl', 'bzcat'],
    ['xz', 'data.tsv', 'xzcat'],
    ['zip', 'corpus.txt', 'unzip -p'],
  ];
  it.each(cases)('%s named %s: exit 2, a hint, no output file', async (kind, name, says) => {
    const file = tmp.path(`${kind}-${name}`);
    writeFileSync(file, containerFile(kind));
    const out = tmp.path(`${kind}-${name}.out`);
    const r = await runCli(['route', file, ...CPU, '--out', out]);
    expect(r.code).toBe(2);
    const line = errorLine(r.stderr);
    expect(line).toContain(file);
    expect(line).toContain(says);
    expect(r.out).toBe('');
    expect(existsSync(out)).toBe(false);
  });

  it('the hint names the format of the text inside (corpus.jsonl.bz2: --format jsonl)', async () => {
    const file = tmp.path('corpus.jsonl.bz2');
    writeFileSync(file, containerFile('bzip2'));
    const r = await runCli(['route', file, ...CPU]);
    expect(errorLine(r.stderr)).toContain(`bzcat ${file} | moe-router route - --format jsonl`);
  });

  it('stdin (a pipe) is sniffed too; the peeked bytes of a text stdin are routed, none lost', async () => {
    const bz = await runCli(['route', '-', ...CPU], { input: containerFile('bzip2') });
    expect(bz.code).toBe(2);
    expect(errorLine(bz.stderr)).toContain('stdin is bzip2-compressed');
    const pq = await runCli(['route', ...CPU], { input: containerFile('parquet') });
    expect(pq.code).toBe(2);
    expect(errorLine(pq.stderr)).toContain('Parquet');
    // a text input shorter than the magic, and one longer, come through whole
    for (const text of ['ab', 'abcdefgh\nij\n', 'x\n'.repeat(10)]) {
      const r = await runCli(['route', '-', ...CPU, '-q', '--include-text'], { input: text });
      expect(r.code).toBe(0);
      const want = text.endsWith('\n') ? text.slice(0, -1).split('\n') : text.split('\n');
      expect(jsonl(r.out).map((x) => x.text)).toEqual(want);
    }
  });

  it('a compressed stream from a pipe through `cat` and a --shard part of a compressed file are refused', async () => {
    const file = tmp.path('piped.txt');
    writeFileSync(file, containerFile('xz'));
    const piped = await shell(`cat '${file}' | $CLI route --backend cpu`);
    expect(piped.code).toBe(2);
    expect(piped.stderr).toContain('stdin is xz-compressed');
    // a named pipe and a process substitution: one line, not wrapped in "cannot read input"
    const fifo = tmp.path('named.fifo');
    const named = await shell(`mkfifo '${fifo}' && (cat '${file}' > '${fifo}' &) && $CLI route '${fifo}' --backend cpu`);
    expect(named.code).toBe(2);
    expect(errorLine(named.stderr)).toBe(`moe-router: error: ${fifo} is xz-compressed (its first bytes say so, whatever its name): moe-router reads text; decompress it into a pipe: xzcat ${fifo} | moe-router route -`);
    const sub = await shell(`$CLI route <(cat '${file}') --backend cpu`);
    expect(sub.code).toBe(2);
    expect(errorLine(sub.stderr)).toMatch(/^moe-router: error: \/dev\/fd\/\d+ is xz-compressed/);
    const part = await runCli(['route', file, ...CPU, '--shard', '1/2']);
    expect(part.code).toBe(2);
    expect(errorLine(part.stderr)).toContain('xz-compressed');
  });

  it('UTF-16 text (a UTF-16 BOM) is refused with an iconv hint; text that merely starts like a magic is routed', async () => {
    const utf16 = tmp.path('utf16.txt');
    writeFileSync(utf16, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('hello\nworld\n', 'utf16le')]));
    const r = await runCli(['route', utf16, ...CPU]);
    expect(r.code).toBe(2);
    expect(errorLine(r.stderr)).toContain(`iconv -f UTF-16LE -t UTF-8 ${utf16} | moe-router route -`);
    const texty = tmp.path('texty.txt');
    writeFileSync(texty, 'BZh9 is a line of text\nARROW1 too\n');
    const ok = await runCli(['route', texty, ...CPU, '-q', '--include-text']);
    expect(ok.code).toBe(0);
    expect(jsonl(ok.out).map((x) => x.text)).toEqual(['BZh9 is a line of text', 'ARROW1 too']);
  });

  it('calibrate refuses them too', async () => {
    const file = tmp.path('cal.txt');
    writeFileSync(file, containerFile('bzip2'));
    const r = await runCli(['calibrate', file, ...CPU, '--target', '0.5,0.5']);
    expect(r.code).toBe(2);
    expect(errorLine(r.stderr)).toContain('bzip2-compressed');
  });
});

describe('the real end of a file', () => {
  it('/proc/self/status is read to its end (its size says 0)', async () => {
    const r = await runCli(['route', '/proc/self/status', ...CPU, '--include-text', '--stats', tmp.path('proc.json')]);
    expect(r.code).toBe(0);
    const recs = jsonl(r.out);
    expect(recs.length).toBeGreaterThan(20);
    expect(String(recs[0].text)).toMatch(/^Name:\s+/);
    const stats = JSON.parse(readFileSync(tmp.path('proc.json'), 'utf8'));
    expect(stats.recordsIn).toBe(recs.length);
    expect(stats.inputChanged).toBeUndefined();
  });

  /**
   * Starts a run whose stdout is not read after its first bytes, so the run
   * blocks (backpressure) long before it reaches the end of the input; then
   * changes the file and lets the run finish.
   */
  async function changeWhileRouting(file: string, args: string[], change: () => void): Promise<{ code: number | null; out: string; stderr: string }> {
    const child = spawn(process.execPath, [CLI, 'route', file, ...CPU, '--batch-bytes', '4K', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stderr.on('data', (b: Buffer) => err.push(b));
    await new Promise<void>((resolve) => {
      child.stdout.once('data', (b: Buffer) => {
        out.push(b);
        child.stdout.pause();
        resolve();
      });
    });
    change();
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stdout.resume();
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    return { code, out: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
  }

  // ~12 MB: several times what the run reads ahead (about two 1 MiB chunks) before a blocked stdout stops it
  const LINES = 100_000;
  const PAD = ' lorem ipsum dolor sit amet'.repeat(4);
  const body = (from: number, n: number): string => Array.from({ length: n }, (_, i) => `line ${from + i}${PAD}`).join('\n') + '\n';

  it('a file appended to during the run: the new records are routed, a warning, inputChanged in --stats', async () => {
    const file = tmp.path('growing.txt');
    writeFileSync(file, body(0, LINES));
    const sizeAtStart = readFileSync(file).length;
    const r = await changeWhileRouting(file, ['--stats', tmp.path('growing.json')], () => appendFileSync(file, body(LINES, 1000)));
    expect(r.code).toBe(0);
    const recs = jsonl(r.out);
    expect(recs).toHaveLength(LINES + 1000);
    expect(recs[LINES + 999].index).toBe(LINES + 999);
    expect(r.stderr).toContain(`moe-router: warning: ${file} changed size while it was read (${sizeAtStart} bytes at the start`);
    const stats = JSON.parse(readFileSync(tmp.path('growing.json'), 'utf8'));
    expect(stats.inputChanged).toEqual({ path: file, sizeAtStart, sizeAtEnd: readFileSync(file).length, bytesRead: readFileSync(file).length });
    expect(stats.recordsIn).toBe(LINES + 1000);
  });

  it('a file truncated during the run: what was read is routed, with a warning and inputChanged', async () => {
    const file = tmp.path('shrinking.txt');
    writeFileSync(file, body(0, LINES));
    const sizeAtStart = readFileSync(file).length;
    const keep = Buffer.from(body(0, LINES / 2)).length;
    const r = await changeWhileRouting(file, ['--stats', tmp.path('shrinking.json')], () => truncateSync(file, keep));
    expect(r.code).toBe(0);
    expect(jsonl(r.out)).toHaveLength(LINES / 2);
    expect(r.stderr).toContain(`${file} changed size while it was read (${sizeAtStart} bytes at the start, ${keep} at the end`);
    expect(JSON.parse(readFileSync(tmp.path('shrinking.json'), 'utf8')).inputChanged).toMatchObject({ sizeAtStart, sizeAtEnd: keep });
  });

  it('--shard keeps the byte range seen at the start, and warns', async () => {
    const file = tmp.path('shard-growing.txt');
    writeFileSync(file, body(0, LINES));
    const before = await runCli(['route', file, ...CPU, '-q', '--shard', '0/2']);
    const r = await changeWhileRouting(file, ['--shard', '0/2'], () => appendFileSync(file, body(LINES, 1000)));
    expect(r.code).toBe(0);
    expect(r.out).toBe(before.out);
    expect(r.stderr).toContain('--shard keeps the byte range computed at the start');
  });
});

describe('records without end: the limit is checked while the record grows', () => {
  it('/dev/zero (never ends, no LF): exit 1 naming the file and line, memory bounded', async () => {
    const r = await runCli(['route', '/dev/zero', ...CPU, '--max-record-bytes', '1M', '--stats', tmp.path('zero.json')]);
    expect(r.code).toBe(1);
    expect(errorLine(r.stderr)).toContain('/dev/zero:1: the record is longer than 1 MiB (--max-record-bytes 1048576)');
    expect(existsSync(tmp.path('zero.json'))).toBe(false);
  });

  it('--on-error skip: an error record, then reading resyncs at the next LF (lines, jsonl, csv)', async () => {
    const big = 'z'.repeat(5000);
    const lines = await runCli(['route', '-', ...CPU, '-q', '--max-record-bytes', '1K', '--on-error', 'skip', '--include-text'], { input: `a\n${big}\nb\n${big}` });
    expect(lines.code).toBe(0);
    expect(jsonl(lines.out)).toEqual([
      expect.objectContaining({ index: 0, text: 'a' }),
      { index: 1, error: 'line 2: the record is longer than 1 KiB (--max-record-bytes 1024); raise --max-record-bytes if such records are real' },
      expect.objectContaining({ index: 2, text: 'b' }),
      { index: 3, error: expect.stringContaining('line 4: the record is longer than 1 KiB') },
    ]);
    const j = await runCli(['route', '-', ...CPU, '-q', '--format', 'jsonl', '--max-record-bytes', '1K', '--on-error', 'skip'], { input: `{"text":"${big}"}\n{"text":"ok"}\n` });
    expect(jsonl(j.out).map((x) => x.error ?? 'routed')).toEqual([expect.stringContaining('line 1: the record is longer than 1 KiB'), 'routed']);
    const csv = await runCli(['route', '-', ...CPU, '-q', '--format', 'csv', '--max-record-bytes', '1K', '--on-error', 'skip', '--include-text'], {
      input: `id,text\n1,${big}\n2,"${big}"\n3,ok\n`,
    });
    expect(csv.code).toBe(0);
    expect(jsonl(csv.out).map((x) => x.error ?? x.text)).toEqual([expect.stringContaining('line 2: the record is longer than 1 KiB'), expect.stringContaining('line 3: the record is longer than 1 KiB'), 'ok']);
  });

  it('a record just at the limit is routed; one byte more is not', async () => {
    const at = 'q'.repeat(1024);
    const r = await runCli(['route', '-', ...CPU, '-q', '--max-record-bytes', '1K', '--on-error', 'skip'], { input: `${at}\r\n${at}x\n${at}` });
    const recs = jsonl(r.out);
    expect(recs.map((x) => 'error' in x)).toEqual([false, true, false]);
    expect(recs[0].complexity).toBe((await route([at]))[0].complexity);
  });
});

describe('an unterminated CSV quote swallows no row', () => {
  const U = 'id,text\n1,"abc\n2,ok\n3,ok\n';

  it('without --on-error skip: exit 1 naming the line where the quote opened', async () => {
    const file = tmp.path('u.csv');
    writeFileSync(file, U);
    const r = await runCli(['route', file, ...CPU]);
    expect(r.code).toBe(1);
    expect(errorLine(r.stderr)).toContain(`${file}:2: unterminated quoted field 2 (the quote opened on line 2 is never closed)`);
  });

  it('with skip: one error record, then the rows after the opening line', async () => {
    const file = tmp.path('u.csv');
    writeFileSync(file, U);
    const r = await runCli(['route', file, ...CPU, '-q', '--on-error', 'skip', '--include-text']);
    expect(r.code).toBe(0);
    expect(jsonl(r.out).map((x) => x.error ?? x.text)).toEqual(['line 2: unterminated quoted field 2 (the quote opened on line 2 is never closed)', 'ok', 'ok']);
  });

  const rows = (from: number, to: number): string => Array.from({ length: to - from + 1 }, (_, i) => `${from + i},row ${from + i}\n`).join('');

  it.each([
    ['a stray quote closed far below (text after the closing quote)', []],
    ['the record limit reached inside the quoted field', ['--max-record-bytes', '1K']],
  ])('%s: one error record, no other row lost', async (_what, extra) => {
    // line 2 opens a quote; lines 3..202 are rows; line 203 has a quote that "closes" it
    const file = tmp.path('stray.csv');
    writeFileSync(file, `id,text\n1,"abc\n${rows(3, 202)}203,"tail"\n204,last\n`);
    const r = await runCli(['route', file, ...CPU, '-q', '--on-error', 'skip', '--include-text', ...(extra as string[])]);
    expect(r.code).toBe(0);
    const recs = jsonl(r.out);
    expect(recs).toHaveLength(203);
    expect(String(recs[0].error)).toMatch(/^line 2: .*opened on line 2/);
    expect(recs.slice(1, 201).map((x) => x.text)).toEqual(Array.from({ length: 200 }, (_, i) => `row ${i + 3}`));
    expect(recs.slice(201).map((x) => x.text)).toEqual(['tail', 'last']);
    expect(recs.map((x) => x.index)).toEqual(Array.from({ length: 203 }, (_, i) => i));
  });

  it('stray quotes on several lines (tsv): each is an error at its own line, the rows between are kept', async () => {
    const r = await runCli(['route', '-', ...CPU, '-q', '--format', 'tsv', '--on-error', 'skip', '--include-text'], { input: 'id\ttext\n1\t"a\n2\t"b\n3\tc\n4\t"d' });
    expect(jsonl(r.out).map((x) => x.error ?? x.text)).toEqual([
      // line 3's quote "closes" line 2's, then text follows it: a stray quote, resync at line 3
      'line 2: unexpected character after the closing quote of field 2, a quoted field that opened on line 2 and spans lines (a stray quote?)',
      'line 3: unexpected character after the closing quote of field 2, a quoted field that opened on line 3 and spans lines (a stray quote?)',
      'c',
      'line 5: unterminated quoted field 2 (the quote opened on line 5 is never closed)',
    ]);
  });

  it('--shards keeps the right raw rows after a resync', async () => {
    const file = tmp.path('stray-shards.csv');
    writeFileSync(file, `id,text\n1,"abc\n${rows(3, 40)}`);
    const dir = tmp.path('stray-shards');
    const r = await runCli(['route', file, ...CPU, '-q', '--on-error', 'skip', '--experts', '1', '--shards', dir]);
    expect(r.code).toBe(0);
    expect(readFileSync(`${dir}/expert-0.csv`, 'utf8')).toBe(`id,text\n${rows(3, 40)}`);
  });
});

describe('a UTF-8 BOM at byte 0 is skipped, U+FEFF elsewhere is text', () => {
  const BOM = '\ufeff';

  it('jsonl: the first line is valid; a U+FEFF inside a string stays', async () => {
    const file = tmp.path('bom.jsonl');
    writeFileSync(file, `${BOM}{"text":"a"}\n{"text":"${BOM}b"}\n`);
    const r = await runCli(['route', file, ...CPU, '-q', '--include-text']);
    expect(r.code).toBe(0);
    expect(jsonl(r.out).map((x) => x.text)).toEqual(['a', `${BOM}b`]);
  });

  it('lines: the BOM is not routed; a record starting with U+FEFF keeps it in --include-text output (jsonl and csv)', async () => {
    const file = tmp.path('bom.txt');
    writeFileSync(file, `${BOM}hello\n${BOM}world\n`);
    const r = await runCli(['route', file, ...CPU, '-q', '--include-text']);
    const recs = jsonl(r.out);
    expect(recs.map((x) => x.text)).toEqual(['hello', `${BOM}world`]);
    const ref = await route(['hello', `${BOM}world`]);
    expect(recs.map(({ expert, complexity, confidence }) => ({ expert, complexity, confidence }))).toEqual(ref);
    const csv = await runCli(['route', file, ...CPU, '-q', '--include-text', '--output-format', 'csv']);
    expect(csv.out.split('\n')[2]).toBe(`1,${ref[1].expert},${ref[1].complexity},${ref[1].confidence},${BOM}world`);
    const stdin = await runCli(['route', '-', ...CPU, '-q', '--include-text'], { input: readFileSync(file) });
    expect(stdin.out).toBe(r.out);
  });

  it('csv with a quoted header (also for a --shard part past the first), tsv', async () => {
    const file = tmp.path('bom.csv');
    writeFileSync(file, `${BOM}"id","text"\n` + Array.from({ length: 50 }, (_, i) => `${i},"t ${i}"\n`).join(''));
    const r = await runCli(['route', file, ...CPU, '-q', '--include-text']);
    expect(r.code).toBe(0);
    expect(jsonl(r.out).map((x) => x.text)).toEqual(Array.from({ length: 50 }, (_, i) => `t ${i}`));
    const part = await runCli(['route', file, ...CPU, '-q', '--include-text', '--shard', '1/2']);
    expect(part.code).toBe(0);
    expect(part.out.length).toBeGreaterThan(0);
    expect(r.out.endsWith(part.out)).toBe(true);
    const tsv = tmp.path('bom.tsv');
    writeFileSync(tsv, `${BOM}"text"\tid\nx\t1\n`);
    const t = await runCli(['route', tsv, ...CPU, '-q', '--include-text']);
    expect(jsonl(t.out).map((x) => x.text)).toEqual(['x']);
  });

  it('--config and merge-stats read JSON files that start with a BOM', async () => {
    const config = tmp.path('bom-config.json');
    writeFileSync(config, `${BOM}{"numExperts": 5}`);
    const r = await runCli(['route', 'examples/corpus.txt', ...CPU, '--config', config, '--stats', tmp.path('bom-stats.json')]);
    expect(r.code).toBe(0);
    const stats = readFileSync(tmp.path('bom-stats.json'), 'utf8');
    expect(JSON.parse(stats).numExperts).toBe(5);
    writeFileSync(tmp.path('bom-stats2.json'), BOM + stats);
    const m = await runCli(['merge-stats', tmp.path('bom-stats2.json'), '-q']);
    expect(m.code).toBe(0);
    expect(JSON.parse(m.out).recordsIn).toBe(JSON.parse(stats).recordsIn);
  });

  it('a BOM split across the first chunks of stdin is still skipped; a lone BOM prefix is text', async () => {
    const r = await shell(`(printf '\\xef'; sleep 0.2; printf '\\xbb\\xbfhi\\n') | $CLI route - --backend cpu -q --include-text`);
    expect(r.code).toBe(0);
    expect(jsonl(r.stdout).map((x) => x.text)).toEqual(['hi']);
    // the BOM was not routed either
    expect(jsonl(r.stdout)[0].complexity).toBe((await route(['hi']))[0].complexity);
    const notBom = await runCli(['route', '-', ...CPU, '-q', '--include-text'], { input: Buffer.from([0xef, 0xbb, 0x41, 10]) });
    expect(jsonl(notBom.out).map((x) => x.text)).toEqual(['\ufffdA']);
  });
});

describe('messages about the input', () => {
  it('--shard on csv/tsv names the real line of a bad row, for every N', async () => {
    const rows = Array.from({ length: 120 }, (_, i) => (i + 2 === 77 ? `${i},bad"quote` : `${i},row ${i}`));
    const csv = tmp.path('lines.csv');
    writeFileSync(csv, `id,text\n${rows.join('\n')}\n`);
    const tsv = tmp.path('lines.tsv');
    writeFileSync(tsv, `id\ttext\n${rows.map((r) => r.replace(',', '\t')).join('\n')}\n`);
    const cases: [string, number, boolean][] = [
      [csv, 3, true],
      [csv, 7, false],
      [tsv, 5, false],
    ];
    for (const [file, n, alsoFail] of cases) {
      const parts = await Promise.all(Array.from({ length: n }, (_, i) => runCli(['route', file, ...CPU, '-q', '--on-error', 'skip', '--shard', `${i}/${n}`])));
      const recs = parts.flatMap((p) => jsonl(p.out));
      expect(recs.map((x) => x.index)).toEqual(Array.from({ length: 120 }, (_, i) => i));
      expect(recs[75].error).toBe('line 77: a quote inside unquoted field 2 (quote the whole field and double the quote)');
      if (!alsoFail) continue;
      const failing = await Promise.all(Array.from({ length: n }, (_, i) => runCli(['route', file, ...CPU, '-q', '--shard', `${i}/${n}`])));
      const bad = failing.filter((p) => p.code === 1);
      expect(bad).toHaveLength(1);
      expect(errorLine(bad[0].stderr)).toContain(`${file}:77: a quote inside unquoted field 2`);
    }
  }, 30_000);

  it('a duplicate header name: the routed column must be unambiguous (exit 2), other duplicates are fine', async () => {
    const dup = tmp.path('dup.csv');
    writeFileSync(dup, 'id,text,lang,text\n1,a,en,b\n');
    const r = await runCli(['route', dup, ...CPU]);
    expect(r.code).toBe(2);
    expect(errorLine(r.stderr)).toContain(`${dup}:1: the header names column "text" twice (columns 2 and 4)`);
    const other = tmp.path('dup-other.csv');
    writeFileSync(other, 'x,text,x\n1,a,2\n');
    const ok = await runCli(['route', other, ...CPU, '-q', '--include-text']);
    expect(ok.code).toBe(0);
    expect(jsonl(ok.out).map((x) => x.text)).toEqual(['a']);
  });

  it('an empty path says so (not "cannot read input : ...")', async () => {
    const r = await runCli(['route', '', ...CPU]);
    expect(r.code).toBe(2);
    expect(errorLine(r.stderr)).toBe('moe-router: error: the input path is empty: give a file, or - for stdin');
    const c = await runCli(['route', 'examples/corpus.txt', ...CPU, '--config', '']);
    expect(c.code).toBe(2);
    expect(errorLine(c.stderr)).toBe('moe-router: error: cannot read config "": the path is empty');
    const m = await runCli(['merge-stats', '']);
    expect(m.code).toBe(2);
    expect(errorLine(m.stderr)).toBe('moe-router: error: cannot read stats "": the path is empty');
  });

  it.runIf(existsSync('/usr/bin/script'))('stdin on a terminal: it says on stderr that it is reading stdin', async () => {
    // util-linux script gives the command a pty; its stdin (here: nothing, then EOF) ends the session
    const dir = tmp.path('tty');
    mkdirSync(dir, { recursive: true });
    const cmd = `${process.execPath} ${CLI} route --backend cpu -q < /dev/tty 2>${dir}/err; echo "rc=$?"`;
    const child = spawn('/usr/bin/script', ['-qec', cmd, '/dev/null'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let seen = '';
    child.stdout.on('data', (b: Buffer) => (seen += b.toString()));
    // wait until the notice is there, then end the terminal input (Ctrl-D)
    for (let i = 0; i < 200 && !(existsSync(`${dir}/err`) && readFileSync(`${dir}/err`, 'utf8').includes('reading stdin')); i++) await new Promise((r) => setTimeout(r, 50));
    child.stdin.write('hello\n\x04');
    await new Promise((r) => child.on('close', r));
    expect(readFileSync(`${dir}/err`, 'utf8')).toBe('moe-router: warning: reading stdin from the terminal (end with Ctrl-D; give a file to route it)\n');
    expect(seen).toContain('"index":0');
    expect(seen).toContain('rc=0');
  });
});
