/**
 * Messages of the real binary: expert counts up to 1024, --config values of
 * the wrong type, environment variables with bad values, decimal-only number
 * syntax in every numeric option, and calibrate's note on shares smaller than
 * one record.
 */
import { writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { jsonl, runCli, stderrLines, tempDir } from './helpers/cli.js';

const tmp = tempDir('moe-msg-');
afterAll(() => tmp.cleanup());

function oneLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  expect(lines, stderr).toHaveLength(1);
  return lines[0];
}

describe('--experts up to 1024', () => {
  it.each([101, 257, 1024])('route --experts %i routes every record to an expert below N', async (n) => {
    const r = await runCli(['route', 'examples/corpus.txt', '--backend', 'cpu', '-q', '--experts', String(n)]);
    expect(r.code, r.stderr).toBe(0);
    const out = jsonl(r.out);
    expect(out).toHaveLength(60);
    for (const o of out) expect(o.expert as number).toBeLessThan(n);
    // more experts, finer bands: the 60 records no longer share 3 experts
    expect(new Set(out.map((o) => o.expert)).size).toBeGreaterThan(3);
  });

  it('explain --experts 1024 --json', async () => {
    const r = await runCli(['explain', '--json', '--experts', '1024', 'Hello World']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.out).expert).toBeLessThan(1024);
  });
});

describe('--config values name the type found', () => {
  it.each([
    ['{"numExperts":"3"}', 'numExperts must be an integer in 1..1024, got a string "3"'],
    ['{"boundaries":"0.2,0.4"}', 'boundaries must be an array of numbers, got a string "0.2,0.4"'],
    ['{"boundaries":{}}', 'boundaries must be an array of numbers, got an object'],
    ['{"complexityThreshold":{}}', 'complexityThreshold must be a number in (0, 1], got an object'],
    ['{"weights":[]}', 'weights must be an object of feature names and numbers, got an array (0 items)'],
    ['{"caps":[]}', 'caps must be an object of feature names and numbers, got an array (0 items)'],
    ['{"weights":{"punctuation":"1"}}', 'weight of "punctuation" must be a finite number >= 0, got a string "1"'],
  ])('%s', async (json, message) => {
    const config = tmp.path('config.json');
    writeFileSync(config, json);
    for (const extra of [[], ['--experts', '3']]) {
      const r = await runCli(['route', 'examples/corpus.txt', '--backend', 'cpu', '-q', '--config', config, ...extra]);
      expect(r.code).toBe(2);
      expect(r.out).toBe('');
      const line = oneLine(r.stderr);
      expect(line).toContain(`(with config ${config}): ${message}`);
      expect(line).not.toMatch(/NaN|\[object|got \d/);
    }
  });
});

describe('environment variables with a bad value', () => {
  it.each([
    ['MOE_ROUTER_BACKEND', 'tpu'],
    ['MOE_ROUTER_GPU_BACKEND', 'bogus'],
  ])('%s=%s: exit 2, one line naming the variable (route, calibrate, explain)', async (name, value) => {
    for (const args of [
      ['route', 'examples/corpus.txt', '-q'],
      ['route', 'examples/corpus.txt', '-q', '--backend', 'cpu'],
      ['calibrate', 'examples/corpus.txt', '--target', '0.5,0.5'],
    ]) {
      const r = await runCli(args, { env: { [name]: value } });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.out).toBe('');
      const line = oneLine(r.stderr);
      expect(line).toMatch(/^moe-router: error: /);
      expect(line).toContain(`${name}`);
      expect(line).toContain(`"${value}"`);
    }
  });
});

describe('warnings are one line too', () => {
  it('MOE_ROUTER_GPU_ADAPTER naming no adapter under --backend auto: one warning line (Dawn lists the adapters on several)', async () => {
    const r = await runCli(['route', 'examples/corpus.txt', '-q'], { env: { MOE_ROUTER_GPU_ADAPTER: 'no-such-adapter' } });
    expect(r.code, r.stderr).toBe(0);
    expect(jsonl(r.out)).toHaveLength(60);
    const lines = stderrLines(r.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^moe-router: warning: .*no-such-adapter.*Routing on the CPU\.$/);
  });
});

describe('numbers are decimal in every numeric option', () => {
  it.each([
    [['explain', 'x', '--threshold'], ['0x1', '0b1', '0o1', 'Infinity', '1_0', '', '1.5.2']],
    [['explain', 'x', '--experts'], ['0x10', '1e1', '3.0', '0o7', '']],
    [['explain', 'x', '--boundaries'], ['0x0', '0.2,0x0', '0.2,Infinity']],
    [['route', 'examples/corpus.txt', '--backend', 'cpu', '-q', '--batch-records'], ['0x10', '1e3', '']],
    [['route', 'examples/corpus.txt', '--backend', 'cpu', '-q', '--batch-bytes'], ['0x10000', '1e6', '0x1K']],
    [['calibrate', 'examples/corpus.txt', '--backend', 'cpu', '--target'], ['0x1,0', '0.5,0x0', '5e-1,0b1']],
  ])('%j rejects %j', async (args, values) => {
    const runs = await Promise.all(values.map((v) => runCli([...args, v])));
    runs.forEach((r, i) => {
      expect(r.code, `${args.join(' ')} ${values[i]}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/decimal|byte size/);
    });
  });

  it('accepts decimal forms: fractions, exponents, leading zeros (never octal)', async () => {
    for (const args of [
      ['--threshold', '.5'],
      ['--threshold', '5e-1'],
      ['--threshold', '1'],
      ['--threshold', '+0.5'],
      ['--experts', '010'],
      ['--boundaries', '2e-1,0.4'],
    ]) {
      const r = await runCli(['explain', '--json', 'Hello', ...args]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    }
    const ten = await runCli(['route', 'examples/corpus.txt', '--backend', 'cpu', '-q', '--experts', '010', '--stats', tmp.path('s.json')]);
    expect(ten.code).toBe(0);
    const c = await runCli(['calibrate', 'examples/corpus.txt', '--backend', 'cpu', '--target', '5e-1,.5', '--json']);
    expect(c.code, c.stderr).toBe(0);
  });
});

describe('calibrate: a share smaller than one record', () => {
  it('prints a note: line naming the experts whose share no single record can meet', async () => {
    const input = tmp.path('three.txt');
    writeFileSync(input, 'a\nHello World\nfn(x) => 1;\n');
    const r = await runCli(['calibrate', input, '--backend', 'cpu', '--target', '0.9,0.05,0.05']);
    expect(r.code, r.stderr).toBe(0);
    const notes = r.out.split('\n').filter((l) => l.startsWith('note: '));
    expect(notes).toHaveLength(1);
    expect(notes[0]).toContain('expert 1 (5.00%) and expert 2 (5.00%)');
    expect(notes[0]).toContain('less than one record of 3 (33.33%)');
    const j = await runCli(['calibrate', input, '--backend', 'cpu', '--target', '0.9,0.05,0.05', '--json']);
    const cal = JSON.parse(j.out);
    expect(cal.exact).toBe(false);
    expect(cal.note).toContain('less than one record');
    const one = await runCli(['calibrate', '-', '--backend', 'cpu', '--target', '0.5,0.5'], { input: 'hello\n' });
    expect(one.out).toMatch(/^note: .*expert 0 \(50.00%\) and expert 1 \(50.00%\).*less than one record of 1 \(100.00%\)/m);
    // 200 experts on 60 records: one short line, not 200 names
    const many200 = await runCli(['calibrate', 'examples/corpus.txt', '--backend', 'cpu', '--target', Array(200).fill('0.005').join(',')]);
    const note200 = many200.out.split('\n').filter((l) => l.startsWith('note: '));
    expect(note200).toHaveLength(1);
    expect(note200[0]).toContain('expert 0 (0.50%), expert 1 (0.50%), expert 2 (0.50%) and 197 more experts');
    expect(note200[0].length).toBeLessThan(300);
    const tooMany = await runCli(['calibrate', 'examples/corpus.txt', '--backend', 'cpu', '--target', Array(1025).fill(String(1 / 1025)).join(',')]);
    expect(tooMany.code).toBe(2);
    expect(oneLine(tooMany.stderr)).toContain('at most 1024 shares');
    // enough records: no note
    const many = await runCli(['calibrate', 'examples/corpus.txt', '--backend', 'cpu', '--target', '0.5,0.5']);
    expect(many.out).not.toContain('note:');
  });
});
