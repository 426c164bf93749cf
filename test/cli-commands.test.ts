/** `explain`, `calibrate`, `--help` and `--version` of the real binary. */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { jsonl, runCli, tempDir } from './helpers/cli.js';
import { SwitchedMoE } from '../src/index.js';

const tmp = tempDir('moe-cmd-');
afterAll(() => tmp.cleanup());
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };

describe('help and version', () => {
  it('--version prints the package version', async () => {
    const r = await runCli(['--version']);
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe(pkg.version);
  });

  it.each([[['--help']], [['route', '--help']], [['explain', '--help']], [['calibrate', '--help']], [['merge-stats', '--help']], [['help', 'route']]])('%j', async (args) => {
    const r = await runCli(args);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Usage: moe-router/);
  });

  it('route --help lists every option of the issue', async () => {
    const r = await runCli(['route', '--help']);
    for (const o of ['--format', '--field', '--experts', '--threshold', '--boundaries', '--backend', '--out', '--output-format', '--shards', '--batch-bytes', '--quiet', '--include-text', '--on-error', '--stats', '--shard', '--config']) {
      expect(r.out).toContain(o);
    }
  });

  it('no command: the help on stderr, exit 2 (usage)', async () => {
    const r = await runCli([]);
    expect(r.code).toBe(2);
    expect(r.stderr + r.out).toContain('Usage: moe-router');
  });
});

describe('explain', () => {
  it('prints the analysis table for each string, equal to the library', async () => {
    const r = await runCli(['explain', 'Hello', 'fn(x) => x * 2; // ünïcode']);
    expect(r.code).toBe(0);
    const moe = new SwitchedMoE({ backend: 'cpu' });
    const e = moe.explain('fn(x) => x * 2; // ünïcode');
    expect(r.out).toContain(`complexity  ${e.complexity.toFixed(4)}`);
    expect(r.out).toContain(`expert      ${e.expert}`);
    expect(r.out).toContain(`confidence  ${e.confidence.toFixed(4)}`);
    for (const f of e.features) expect(r.out).toMatch(new RegExp(`\\b${f.name}\\s+${f.value.toFixed(4)}\\s+${f.weight.toFixed(4)}\\s+${f.contribution.toFixed(4)}`));
    expect(r.out.match(/^text /gm)).toHaveLength(2);
  });

  it('--json gives the library explanation; router options apply', async () => {
    const r = await runCli(['explain', '--json', '--experts', '5', 'Some Text']);
    const moe = new SwitchedMoE({ backend: 'cpu', numExperts: 5 });
    expect(JSON.parse(r.out)).toEqual(JSON.parse(JSON.stringify(moe.explain('Some Text'))));
    const bad = await runCli(['explain', '--threshold', '0', 'x']);
    expect(bad.code).toBe(2);
  });
});

describe('calibrate', () => {
  it('finds boundaries at exact quantiles, reports achieved shares, and writes a config route --config reads', async () => {
    const cfg = tmp.path('cal.json');
    const r = await runCli(['calibrate', 'examples/corpus.txt', '--target', '0.5,0.3,0.2', '--backend', 'cpu', '--write-config', cfg]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('calibrated 3 experts on 60 records');
    const written = JSON.parse(readFileSync(cfg, 'utf8'));
    expect(written.numExperts).toBe(3);
    expect(written.boundaries).toHaveLength(2);
    expect(r.out).toContain(`boundaries: ${written.boundaries.join(',')}`);
    const routed = await runCli(['route', 'examples/corpus.txt', '--backend', 'cpu', '-q', '--config', cfg]);
    const counts = [0, 0, 0];
    for (const x of jsonl(routed.out)) counts[x.expert as number]++;
    const j = JSON.parse((await runCli(['calibrate', 'examples/corpus.txt', '--target', '0.5,0.3,0.2', '--backend', 'cpu', '--json'])).out);
    expect(j.counts).toEqual(counts);
    // 60 records, distinct enough scores: 30 / 18 / 12 exactly unless ties
    expect(Math.abs(counts[0] - 30)).toBeLessThanOrEqual(2);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(60);
    // exact quantile rule: everything below boundary 0 goes to expert 0
    const scores = jsonl(routed.out).map((x) => x.complexity as number).sort((a, b) => a - b);
    expect(scores[counts[0]]).toBe(written.boundaries[0]);
  });

  it('ties: reports that exact shares are impossible', async () => {
    const r = await runCli(['calibrate', '-', '--target', '0.5,0.5', '--backend', 'cpu'], { input: 'same\n'.repeat(10) + 'different Text 123\n'.repeat(10) });
    expect(r.code).toBe(0);
    expect(r.out).toContain('50.00%');
    const s = await runCli(['calibrate', '-', '--target', '0.3,0.7', '--backend', 'cpu', '--json'], { input: 'same\n'.repeat(10) });
    const j = JSON.parse(s.out);
    expect(j.exact).toBe(false);
    expect(j.note).toContain('ties');
  });

  it.each([
    [['--target', '0.5,0.6'], 'must sum to 1'],
    [['--target', '1'], 'at least two shares'],
    [['--target', '0.5,-0.5,1'], 'must be > 0'],
    [[], "required option '--target <shares>' not specified"],
  ])('bad targets %j: exit 2', async (args, message) => {
    const r = await runCli(['calibrate', 'examples/corpus.txt', '--backend', 'cpu', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });

  it('an empty corpus is a clear error', async () => {
    const r = await runCli(['calibrate', '-', '--target', '0.5,0.5', '--backend', 'cpu'], { input: '' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no routed records');
  });
});
