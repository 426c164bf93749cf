/**
 * Records past every limit, through the real binary: a stream without line
 * ends fails bounded and clear; a 600 MB JSON line (past V8's longest string)
 * is a bad record, not a crash; a 600 MB line with --include-text is written
 * from its bytes. One 600 MB file is shared by these tests.
 */
import { closeSync, openSync, readFileSync, readSync, statSync, writeSync } from 'node:fs';
import { constants as bufferConstants } from 'node:buffer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, jsonl, runCli, tempDir, errorLine, shell } from './helpers/cli.js';

const tmp = tempDir('moe-inputs-large-');
afterAll(() => tmp.cleanup());

const CPU = ['--backend', 'cpu'];

describe('a stream without line ends', () => {
  it('300 MB of NUL bytes on stdin at the default limit: exit 1 naming stdin and line 1', async () => {
    const r = await shell('head -c 300M /dev/zero | $CLI route - --backend cpu');
    expect(r.code).toBe(1);
    expect(errorLine(r.stderr)).toContain('stdin:1: the record is longer than 256 MiB (--max-record-bytes 268435456)');
    expect(r.stdout).toBe('');
  }, 60_000);

  it('--on-error skip: 1 GB without LF is one error record, reading resyncs after it, memory stays bounded', async () => {
    const stats = tmp.path('zero-skip.json');
    const r = await shell(`(head -c 1G /dev/zero; printf '\\nafter\\n') | $CLI route - --backend cpu -q --include-text --on-error skip --max-record-bytes 16M --stats ${stats}`);
    expect(r.code).toBe(0);
    expect(jsonl(r.stdout)).toEqual([
      { index: 0, error: 'line 1: the record is longer than 16 MiB (--max-record-bytes 16777216); raise --max-record-bytes if such records are real' },
      expect.objectContaining({ index: 1, text: 'after' }),
    ]);
    const s = JSON.parse(readFileSync(stats, 'utf8'));
    expect(s.bytes).toBe(1024 ** 3 + 7);
    // a held 1 GiB record would need well over 1 GiB; the skipped one holds at most 16 MiB
    expect(s.maxRssBytes).toBeLessThan(512 * 1024 * 1024);
  }, 120_000);
});

describe('a 600 MB line', () => {
  const N = 600_000_000;
  const file = tmp.path('huge.jsonl');
  const head = '{"text":"';
  beforeAll(() => {
    const fd = openSync(file, 'w');
    writeSync(fd, head);
    const block = Buffer.alloc(1 << 24, 'a');
    for (let left = N; left > 0; left -= block.length) writeSync(fd, block, 0, Math.min(left, block.length));
    writeSync(fd, '"}\n{"text":"ok"}\n');
    closeSync(fd);
    expect(N).toBeGreaterThan(bufferConstants.MAX_STRING_LENGTH);
  });

  it('jsonl: a bad record with a clear message (exit 1), or an error record with --on-error skip (not exit 70)', async () => {
    const fail = await runCli(['route', file, ...CPU, '--max-record-bytes', '1G']);
    expect(fail.code).toBe(1);
    expect(errorLine(fail.stderr)).toContain(`${file}:1: a JSON line of ${N + 11} bytes is longer than the longest string JavaScript can parse (536870888 characters)`);
    const skip = await runCli(['route', file, ...CPU, '-q', '--max-record-bytes', '1G', '--on-error', 'skip', '--include-text']);
    expect(skip.code).toBe(0);
    const recs = jsonl(skip.out);
    expect(recs).toHaveLength(2);
    expect(String(recs[0].error)).toMatch(/^line 1: a JSON line of 600000011 bytes is longer than the longest string/);
    expect(recs[1]).toMatchObject({ index: 1, text: 'ok' });
    // at the default limit it is a record longer than 256 MiB: the same clear exit 1
    const dflt = await runCli(['route', file, ...CPU]);
    expect(dflt.code).toBe(1);
    expect(errorLine(dflt.stderr)).toContain(`${file}:1: the record is longer than 256 MiB`);
  }, 120_000);

  it('--include-text writes it from its bytes: the whole text, escaped, no JS string of it', async () => {
    const out = tmp.path('huge-out.jsonl');
    const r = await runCli(['route', file, ...CPU, '-q', '--format', 'lines', '--include-text', '--max-record-bytes', '1G', '--out', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // record 0: {"index":0,...,"text":"{\"text\":\"aaa...\"}"} ; record 1: the short line
    const fd = openSync(out, 'r');
    try {
      const start = Buffer.alloc(200);
      readSync(fd, start, 0, 200, 0);
      const m = /^\{"index":0,"expert":\d,"complexity":[0-9.e-]+,"confidence":[0-9.e-]+,"text":"\{\\"text\\":\\"a/.exec(start.toString('latin1'));
      expect(m).not.toBeNull();
      const at = (m as RegExpExecArray)[0].length - 1;
      const block = Buffer.alloc(1 << 24);
      const as = Buffer.alloc(1 << 24, 'a');
      for (let done = 0; done < N; ) {
        const want = Math.min(block.length, N - done);
        const got = readSync(fd, block, 0, want, at + done);
        expect(got).toBe(want);
        expect(block.subarray(0, got).equals(as.subarray(0, got))).toBe(true);
        done += got;
      }
      const size = statSync(out).size;
      const tail = Buffer.alloc(size - at - N);
      readSync(fd, tail, 0, tail.length, at + N);
      const lines = tail.toString('utf8').split('\n');
      expect(lines[0]).toBe('\\"}"}');
      expect(JSON.parse(lines[1])).toMatchObject({ index: 1, text: '{"text":"ok"}' });
      expect(lines.slice(2)).toEqual(['']);
    } finally {
      closeSync(fd);
    }
  }, 180_000);
});
