/** `moe-router route`, driven as a user would: spawned process, real files. */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { jsonl, runCli, stderrLines, tempDir } from './helpers/cli.js';
import { SwitchedMoE } from '../src/index.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const CPU = ['--backend', 'cpu'];

async function reference(texts: string[], opts: ConstructorParameters<typeof SwitchedMoE>[0] = {}): Promise<{ expert: number; complexity: number; confidence: number }[]> {
  const moe = new SwitchedMoE({ ...opts, backend: 'cpu' });
  const r = await moe.routeBatch(texts);
  await moe.dispose();
  return Array.from(r.experts, (expert, i) => ({ expert, complexity: r.scoresQ16[i] / 65536, confidence: r.confidenceQ16[i] / 65536 }));
}

describe('route: lines', () => {
  it('routes the sample corpus: one record per line, in order, equal to the library', async () => {
    const r = await runCli(['route', 'examples/corpus.txt', ...CPU]);
    expect(r.code).toBe(0);
    const recs = jsonl(r.out);
    const lines = readFileSync('examples/corpus.txt', 'utf8').split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    expect(recs.length).toBe(lines.length);
    const ref = await reference(lines);
    recs.forEach((rec, i) => expect(rec).toEqual({ index: i, ...ref[i] }));
    expect(r.stderr).toContain(`${lines.length} records in, ${lines.length} out (in = out)`);
    expect(r.stderr).toContain('expert 0');
    expect(r.stderr).toContain('MB/s');
  });

  it('handles CRLF, empty lines, a last line without LF, NUL and invalid UTF-8 as bytes', async () => {
    const file = tmp.path('edge.txt');
    const bytes = Buffer.concat([Buffer.from('alpha\r\n\nbeta gamma\r\n\r\n'), Buffer.from([0, 0x41, 0xff, 0xfe, 0xc3, 10]), Buffer.from('tail')]);
    writeFileSync(file, bytes);
    const r = await runCli(['route', file, ...CPU, '--include-text']);
    expect(r.code).toBe(0);
    const recs = jsonl(r.out);
    expect(recs.map((x) => x.index)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(recs.map((x) => x.text)).toEqual(['alpha', '', 'beta gamma', '', '\u0000A\ufffd\ufffd\ufffd', 'tail']);
    // the routed bytes are the raw ones (not the decoded replacement characters)
    const moe = new SwitchedMoE({ backend: 'cpu' });
    const raw = Buffer.from([0, 0x41, 0xff, 0xfe, 0xc3]);
    const ref = await moe.routeBatch({ bytes: raw, offsets: new Uint32Array([0, raw.length]) });
    await moe.dispose();
    expect(recs[4].complexity).toBe(ref.scoresQ16[0] / 65536);
    expect((await reference(['alpha', '']))[0].complexity).toBe(recs[0].complexity);
  });

  it('an empty file gives no records and exit 0; a file of one LF gives one empty record', async () => {
    writeFileSync(tmp.path('empty.txt'), '');
    writeFileSync(tmp.path('lf.txt'), '\n');
    const a = await runCli(['route', tmp.path('empty.txt'), ...CPU]);
    expect(a.code).toBe(0);
    expect(a.out).toBe('');
    expect(a.stderr).toContain('0 records in, 0 out');
    const b = await runCli(['route', tmp.path('lf.txt'), ...CPU]);
    expect(jsonl(b.out)).toEqual([{ index: 0, expert: 0, complexity: 0, confidence: 1 }]);
  });

  it('is a line filter: stdin to stdout, order kept, only data on stdout, no progress when stderr is not a terminal', async () => {
    const input = Array.from({ length: 5000 }, (_, i) => `record ${i} ${'x'.repeat(i % 50)}`).join('\n') + '\n';
    const r = await runCli(['route', '-', ...CPU, '--batch-records', '777', '--batch-bytes', '4K'], { input });
    expect(r.code).toBe(0);
    const recs = jsonl(r.out);
    expect(recs.map((x) => x.index)).toEqual(Array.from({ length: 5000 }, (_, i) => i));
    expect(r.stderr).not.toContain('\r');
    expect(r.stderr).not.toContain('ETA');
    const q = await runCli(['route', ...CPU, '--quiet'], { input });
    expect(q.stdout.equals(r.stdout)).toBe(true);
    expect(q.stderr).toBe('');
  });

  it.runIf(existsSync('/usr/bin/script'))('shows a progress bar on stderr when it is a terminal (util-linux script gives a pty)', async () => {
    const { execFileSync } = await import('node:child_process');
    const { CLI } = await import('./helpers/cli.js');
    const file = tmp.path('progress.txt');
    writeFileSync(file, 'a line of text for the progress bar\n'.repeat(200_000));
    const cmd = `'${process.execPath}' '${CLI}' route '${file}' --backend cpu --batch-bytes 64K --out '${tmp.path('progress.jsonl')}'`;
    const tty = execFileSync('/usr/bin/script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8' });
    expect(tty).toMatch(/\[#*\.*\] +[\d.]+% .*MB\/s ETA/);
    expect(tty).toContain('200000 records in, 200000 out');
  });

  it('reads a named pipe or process substitution to its end (not a regular file: size unknown)', async () => {
    const { execFileSync } = await import('node:child_process');
    const { CLI } = await import('./helpers/cli.js');
    const out = execFileSync('/bin/bash', ['-c', `'${process.execPath}' '${CLI}' route <(cat examples/corpus.txt) --backend cpu -q`], { encoding: 'utf8' });
    const direct = await runCli(['route', 'examples/corpus.txt', ...CPU, '-q']);
    expect(out).toBe(direct.out);
  });

  it('batch sizes do not change the output', async () => {
    const base = await runCli(['route', 'examples/corpus.txt', ...CPU, '-q']);
    const small = await runCli(['route', 'examples/corpus.txt', ...CPU, '-q', '--batch-bytes', '1K', '--batch-records', '3']);
    expect(small.stdout.equals(base.stdout)).toBe(true);
  });
});

describe('route: options', () => {
  it('--experts, --threshold and --boundaries reach the router', async () => {
    const lines = readFileSync('examples/corpus.txt', 'utf8').trimEnd().split('\n');
    const a = jsonl((await runCli(['route', 'examples/corpus.txt', ...CPU, '-q', '--experts', '5', '--threshold', '0.8'])).out);
    const refA = await reference(lines, { numExperts: 5, complexityThreshold: 0.8 });
    expect(a.map((x) => x.expert)).toEqual(refA.map((x) => x.expert));
    expect(Math.max(...a.map((x) => x.expert as number))).toBeGreaterThan(2);
    const b = jsonl((await runCli(['route', 'examples/corpus.txt', ...CPU, '-q', '--boundaries', '0.2,0.3,0.4'])).out);
    const refB = await reference(lines, { boundaries: [0.2, 0.3, 0.4] });
    expect(b.map((x) => x.expert)).toEqual(refB.map((x) => x.expert));
  });

  it('--config is read, explicit options override it', async () => {
    const cfg = tmp.path('cfg.json');
    writeFileSync(cfg, JSON.stringify({ numExperts: 2, boundaries: [0.3], weights: { length: 2 } }));
    const lines = readFileSync('examples/corpus.txt', 'utf8').trimEnd().split('\n');
    const a = jsonl((await runCli(['route', 'examples/corpus.txt', ...CPU, '-q', '--config', cfg])).out);
    const refA = await reference(lines, { numExperts: 2, boundaries: [0.3], weights: { length: 2 } });
    expect(a).toEqual(refA.map((x, i) => ({ index: i, ...x })));
    const b = jsonl((await runCli(['route', 'examples/corpus.txt', ...CPU, '-q', '--config', cfg, '--boundaries', '0.25'])).out);
    const refB = await reference(lines, { numExperts: 2, boundaries: [0.25], weights: { length: 2 } });
    expect(b.map((x) => x.expert)).toEqual(refB.map((x) => x.expert));
    writeFileSync(tmp.path('bad-cfg.json'), '{"numExperts": 2, "colour": 1}');
    const c = await runCli(['route', 'examples/corpus.txt', ...CPU, '--config', tmp.path('bad-cfg.json')]);
    expect(c.code).toBe(2);
    expect(c.stderr.trim().split('\n')).toHaveLength(1);
    expect(c.stderr).toContain('unknown key colour');
  });

  it('--output-format csv and tsv, with --include-text quoted per RFC 4180', async () => {
    const file = tmp.path('q.txt');
    writeFileSync(file, 'plain\nhas, comma\nhas "quote"\nhas\ttab\n');
    const csv = await runCli(['route', file, ...CPU, '-q', '--output-format', 'csv', '--include-text']);
    const rows = csv.out.split('\n');
    expect(rows[0]).toBe('index,expert,complexity,confidence,text');
    expect(rows[1]).toMatch(/^0,\d,[\d.]+,[\d.]+,plain$/);
    expect(rows[2]).toMatch(/,"has, comma"$/);
    expect(rows[3]).toMatch(/,"has ""quote"""$/);
    expect(rows[4]).toMatch(/,has\ttab$/);
    const tsv = await runCli(['route', file, ...CPU, '-q', '--output-format', 'tsv', '--include-text']);
    const trows = tsv.out.split('\n');
    expect(trows[0]).toBe('index\texpert\tcomplexity\tconfidence\ttext');
    expect(trows[4]).toMatch(/\t"has\ttab"$/);
    const j = jsonl((await runCli(['route', file, ...CPU, '-q'])).out);
    expect(trows[2].split('\t').slice(0, 4)).toEqual([String(j[1].index), String(j[1].expert), String(j[1].complexity), String(j[1].confidence)]);
  });

  it('--out writes the file atomically (no temporary file left) and --stats writes the summary as JSON', async () => {
    const out = tmp.path('out.jsonl');
    const stats = tmp.path('stats.json');
    const r = await runCli(['route', 'examples/corpus.txt', ...CPU, '--out', out, '--stats', stats]);
    expect(r.code).toBe(0);
    expect(r.out).toBe('');
    expect(jsonl(readFileSync(out, 'utf8'))).toHaveLength(60);
    const s = JSON.parse(readFileSync(stats, 'utf8'));
    expect(s).toMatchObject({ recordsIn: 60, recordsOut: 60, routed: 60, errors: 0, numExperts: 3, backend: 'cpu', complete: true });
    expect(s.perExpert.reduce((a: number, b: number) => a + b, 0)).toBe(60);
    expect(s.bytes).toBe(readFileSync('examples/corpus.txt').length);
    expect(s.maxRssBytes).toBeGreaterThan(1e6);
    expect(readdirSync(tmp.dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('--out to a device (/dev/null) writes in place, never renaming over it', async () => {
    const { statSync } = await import('node:fs');
    const r = await runCli(['route', 'examples/corpus.txt', ...CPU, '-q', '--out', '/dev/null']);
    expect(r.code).toBe(0);
    expect(statSync('/dev/null').isCharacterDevice()).toBe(true);
  });

  it('--shards writes each record unchanged into DIR/expert-K.<ext>, in input order', async () => {
    const dir = tmp.path('shards');
    const r = await runCli(['route', 'examples/corpus.jsonl', ...CPU, '-q', '--shards', dir]);
    expect(r.code).toBe(0);
    const recs = jsonl(r.out);
    const lines = readFileSync('examples/corpus.jsonl', 'utf8').trimEnd().split('\n');
    expect(readdirSync(dir).sort()).toEqual(['expert-0.jsonl', 'expert-1.jsonl', 'expert-2.jsonl']);
    for (let e = 0; e < 3; e++) {
      const want = lines.filter((_, i) => recs[i].expert === e).map((l) => l + '\n').join('');
      expect(readFileSync(`${dir}/expert-${e}.jsonl`, 'utf8')).toBe(want);
    }
    // lines: each record's text (CR of CRLF dropped) plus LF; empty lines are records too
    const linesIn = tmp.path('s.txt');
    writeFileSync(linesIn, 'a\r\n\nSome Longer Text, With Symbols: {x} 123\nlast');
    const dirL = tmp.path('shards-lines');
    const l = jsonl((await runCli(['route', linesIn, ...CPU, '-q', '--shards', dirL, '--experts', '2'])).out);
    const texts = ['a', '', 'Some Longer Text, With Symbols: {x} 123', 'last'];
    for (let e = 0; e < 2; e++) {
      expect(readFileSync(`${dirL}/expert-${e}.txt`, 'utf8')).toBe(texts.filter((_, i) => l[i].expert === e).map((t) => t + '\n').join(''));
    }
    const csvIn = tmp.path('s.csv');
    writeFileSync(csvIn, 'id,text\r\n1,short\r\n2,"A Much, Longer ""Quoted"" Text: with [symbols] & 12345"\r\n3,"multi\nline"\r\n');
    const dir2 = tmp.path('shards-csv');
    const c = await runCli(['route', csvIn, ...CPU, '-q', '--shards', dir2, '--experts', '2']);
    const crecs = jsonl(c.out);
    const rows = ['1,short', '2,"A Much, Longer ""Quoted"" Text: with [symbols] & 12345"', '3,"multi\nline"'];
    for (let e = 0; e < 2; e++) {
      expect(readFileSync(`${dir2}/expert-${e}.csv`, 'utf8')).toBe('id,text\n' + rows.filter((_, i) => crecs[i].expert === e).map((x) => x + '\n').join(''));
    }
  });
});

describe('route: jsonl, csv, tsv input', () => {
  it('jsonl: --field with a nested path; format from the extension', async () => {
    const r = await runCli(['route', 'examples/corpus.jsonl', ...CPU, '-q', '--include-text']);
    const txt = jsonl((await runCli(['route', 'examples/corpus.txt', ...CPU, '-q', '--include-text'])).out);
    expect(jsonl(r.out)).toEqual(txt);
    const f = tmp.path('nested.jsonl');
    writeFileSync(f, '{"meta":{"text":"Hello World"}}\n{"meta":{"text":"x"}}\n');
    const n = jsonl((await runCli(['route', f, ...CPU, '-q', '--field', 'meta.text', '--include-text'])).out);
    expect(n.map((x) => x.text)).toEqual(['Hello World', 'x']);
    const viaStdin = await runCli(['route', '-', '--format', 'jsonl', '--field', 'meta.text', ...CPU, '-q'], { input: readFileSync(f) });
    expect(jsonl(viaStdin.out).map((x) => x.complexity)).toEqual(n.map((x) => x.complexity));
  });

  it('csv and tsv: header column by --field, quoted fields with commas, quotes and newlines, CRLF', async () => {
    const f = tmp.path('in.csv');
    writeFileSync(f, 'id,body,other\r\n1,"Hello, ""World""",x\r\n2,"two\nlines",y\r\n3,,z\r\n4,last,w');
    const r = await runCli(['route', f, ...CPU, '-q', '--field', 'body', '--include-text']);
    expect(r.code).toBe(0);
    expect(jsonl(r.out).map((x) => [x.index, x.text])).toEqual([[0, 'Hello, "World"'], [1, 'two\nlines'], [2, ''], [3, 'last']]);
    const t = tmp.path('in.tsv');
    writeFileSync(t, 'text\tn\nalpha beta\t1\n"tab\there"\t2\n');
    const rt = await runCli(['route', t, ...CPU, '-q', '--include-text']);
    expect(jsonl(rt.out).map((x) => x.text)).toEqual(['alpha beta', 'tab\there']);
    const missingCol = await runCli(['route', f, ...CPU, '--field', 'nope']);
    expect(missingCol.code).toBe(2);
    expect(missingCol.stderr).toMatch(/in\.csv:1: no column "nope" in the header \(columns: id, body, other\)/);
  });
});

describe('route: bad input records', () => {
  const badJsonl = '{"text":"fine"}\n{"text": oops}\n{"other":"x"}\n{"text":42}\n[1]\n{"text":"also fine"}\n';

  it('stops by default with file, line number and problem, exit 1; the summary counts it', async () => {
    const f = tmp.path('bad.jsonl');
    writeFileSync(f, badJsonl);
    const r = await runCli(['route', f, ...CPU]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`moe-router: error: ${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: invalid JSON`));
    expect(r.stderr).toContain('STOPPED after 2 records in, 1 out');
    expect(r.stderr).toContain('1 routed, 1 error');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(jsonl(r.out)).toHaveLength(1);
  });

  it.each([
    ['{"other":"x"}\n', ':1: missing field "text"'],
    ['{"text":42}\n', ':1: field "text" is a number, not a string'],
    ['{"text":"a"}\n{"text":"b"}\n{"text":null}\n', ':3: field "text" is null, not a string'],
  ])('jsonl %j names the line and the problem', async (content, message) => {
    const f = tmp.path('b1.jsonl');
    writeFileSync(f, content);
    const r = await runCli(['route', f, ...CPU, '-q']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`b1.jsonl${message}`);
  });

  it('csv bad quoting stops with the line number', async () => {
    const f = tmp.path('bad.csv');
    writeFileSync(f, 'id,text\n1,ok\n2,"multi\nline"\n3,bro"ken\n');
    const r = await runCli(['route', f, ...CPU, '-q']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('bad.csv:5: a quote inside unquoted field 2');
    const u = tmp.path('unterminated.csv');
    writeFileSync(u, 'text\nfine\n"never closed\nmore\n');
    const ru = await runCli(['route', u, ...CPU, '-q']);
    expect(ru.code).toBe(1);
    expect(ru.stderr).toContain('unterminated.csv:3: unterminated quoted field 1');
  });

  it('--on-error skip writes an error record (index, error) in place and goes on; counts in = out', async () => {
    const f = tmp.path('bad2.jsonl');
    writeFileSync(f, badJsonl);
    const r = await runCli(['route', f, ...CPU, '--on-error', 'skip', '--stats', tmp.path('bad2.json')]);
    expect(r.code).toBe(0);
    const recs = jsonl(r.out);
    expect(recs.map((x) => x.index)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(recs.filter((x) => 'error' in x).map((x) => x.index)).toEqual([1, 2, 3, 4]);
    expect(recs[2]).toEqual({ index: 2, error: 'line 3: missing field "text"' });
    expect(recs[4].error).toBe('line 5: expected a JSON object, got an array');
    expect(recs[5].expert).toBeTypeOf('number');
    expect(r.stderr).toContain('6 records in, 6 out (in = out): 2 routed, 4 errors');
    const s = JSON.parse(readFileSync(tmp.path('bad2.json'), 'utf8'));
    expect(s).toMatchObject({ recordsIn: 6, recordsOut: 6, routed: 2, errors: 4 });
    const csv = await runCli(['route', f, ...CPU, '-q', '--on-error', 'skip', '--output-format', 'csv']);
    expect(csv.out.split('\n')[0]).toBe('index,expert,complexity,confidence,error');
    expect(csv.out.split('\n')[3]).toBe('2,,,,"line 3: missing field ""text"""');
  });

  it('a failed run leaves no output file and no temporary file', async () => {
    const f = tmp.path('bad3.jsonl');
    writeFileSync(f, Array.from({ length: 3000 }, (_, i) => JSON.stringify({ text: `t${i}` })).join('\n') + '\n{broken\n');
    const out = tmp.path('never.jsonl');
    const r = await runCli(['route', f, ...CPU, '-q', '--out', out, '--shards', tmp.path('never-shards'), '--stats', tmp.path('never.json'), '--batch-records', '100']);
    expect(r.code).toBe(1);
    expect(existsSync(out)).toBe(false);
    expect(existsSync(tmp.path('never.json'))).toBe(false);
    expect(readdirSync(tmp.path('never-shards'))).toEqual([]);
    expect(readdirSync(tmp.dir).filter((x) => x.includes('.tmp-'))).toEqual([]);
  });

  it('an interrupted run (SIGTERM) removes its temporary file and leaves no output', async () => {
    const { spawn } = await import('node:child_process');
    const { CLI } = await import('./helpers/cli.js');
    const out = tmp.path('interrupted.jsonl');
    const child = spawn(process.execPath, [CLI, 'route', '-', '--backend', 'cpu', '-q', '--out', out], { stdio: ['pipe', 'ignore', 'pipe'] });
    child.stdin.write('some text\n'.repeat(1000));
    // Wait (polling, not a fixed sleep: start-up is slow on a loaded machine) until the run has its temporary file.
    const hasTmp = (): boolean => readdirSync(tmp.dir).some((x) => x.startsWith('interrupted.jsonl.tmp-'));
    for (let waited = 0; !hasTmp() && waited < 30_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    expect(hasTmp()).toBe(true);
    const code = await new Promise<number | null>((r) => {
      child.on('close', (c) => r(c));
      child.kill('SIGTERM');
    });
    expect(code).toBe(143);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(tmp.dir).filter((x) => x.startsWith('interrupted.jsonl.tmp-'))).toEqual([]);
  });
});

describe('route: usage and I/O errors: one line on stderr, exit 2, no stack trace', () => {
  it.each([
    [['route', 'no/such/file.txt'], 'cannot read input no/such/file.txt: no such file or directory'],
    [['route', '.'], 'cannot read input .: is a directory'],
    [['route', 'examples/corpus.txt', '--out', '/nonexistent-dir/out.jsonl'], 'cannot write output /nonexistent-dir/out.jsonl'],
    [['route', 'examples/corpus.txt', '--experts', '0'], "option '--experts <n>' argument '0' is invalid"],
    [['route', 'examples/corpus.txt', '--experts', 'many'], "option '--experts <n>' argument 'many' is invalid"],
    [['route', 'examples/corpus.txt', '--threshold', '2'], "option '--threshold <t>' argument '2' is invalid"],
    [['route', 'examples/corpus.txt', '--boundaries', '0.5,0.2'], 'boundaries must be strictly increasing'],
    [['route', 'examples/corpus.txt', '--boundaries', '0.2,0.5', '--experts', '4'], '4 experts need 3 boundaries, got 2'],
    [['route', 'examples/corpus.txt', '--format', 'xml'], 'expected one of lines, jsonl, csv, tsv'],
    [['route', 'examples/corpus.txt', '--backend', 'tpu'], 'expected one of auto, gpu, cpu'],
    [['route', 'examples/corpus.txt', '--output-format', 'xml'], 'expected one of jsonl, csv, tsv'],
    [['route', 'examples/corpus.txt', '--batch-bytes', 'lots'], "option '--batch-bytes <size>' argument 'lots' is invalid"],
    [['route', 'examples/corpus.txt', '--on-error', 'ignore'], 'expected one of fail, skip'],
    [['route', 'examples/corpus.txt', '--shard', '4/4'], 'I must be in 0..N-1'],
    [['route', '-', '--shard', '0/2'], '--shard needs a file'],
    [['route', 'examples/corpus.txt', '--config', 'missing.json'], 'cannot read config missing.json: no such file or directory'],
    [['route', 'examples/corpus.txt', '--no-such-option'], "unknown option '--no-such-option'"],
    [['frobnicate'], "unknown command 'frobnicate'"],
  ])('%j', async (args, message) => {
    const r = await runCli(args.includes('--backend') || args[0] !== 'route' ? args : [...args, '--backend', 'cpu']);
    expect(r.code).toBe(2);
    const lines = stderrLines(r.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(message);
    expect(lines[0]).toMatch(/^moe-router: error: /);
    expect(r.out).toBe('');
  });

  it('--backend gpu without an adapter: exit 2 with one line of ours; auto falls back to the CPU with a warning', async () => {
    const env = { MOE_ROUTER_GPU_BACKEND: 'vulkan' }; // no libvulkan on the test machines: no adapter
    const r = await runCli(['route', 'examples/corpus.txt', '--backend', 'gpu'], { env });
    if (r.code === 0) return; // a machine with a Vulkan adapter: nothing to check
    expect(r.code).toBe(2);
    const ours = r.stderr.split('\n').filter((l) => l.startsWith('moe-router:'));
    expect(ours).toHaveLength(1);
    expect(ours[0]).toMatch(/^moe-router: error: no WebGPU adapter found/);
    const auto = await runCli(['route', 'examples/corpus.txt', '--backend', 'auto', '-q'], { env });
    expect(auto.code).toBe(0);
    expect(jsonl(auto.out)).toHaveLength(60);
    expect(auto.stderr).toContain('moe-router: warning: no WebGPU adapter found');
  });

  it('a reader that closes stdout early (| head -1): no message, exit 141 as for SIGPIPE', async () => {
    const { spawn } = await import('node:child_process');
    const { CLI } = await import('./helpers/cli.js');
    const f = tmp.path('big.txt');
    writeFileSync(f, 'line of text\n'.repeat(300_000));
    const child = spawn(process.execPath, [CLI, 'route', f, '--backend', 'cpu', '-q'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    expect(code).toBe(141);
    expect(err).toBe('');
  });
});
