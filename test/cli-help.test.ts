/**
 * The help of the real binary: choices, human defaults, the environment
 * variables the code reads, the exit codes, runnable examples, and -v.
 */
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, runCli, tempDir } from './helpers/cli.js';
import { spawnSync } from 'node:child_process';
import { INPUT_FORMATS } from '../src/sources/record-reader.js';
import { OUTPUT_FORMATS } from '../src/sinks/output-format.js';
import { BACKENDS } from '../src/router/switched-moe.js';
import { EXIT } from '../src/cli/cli-errors.js';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
const tmp = tempDir('moe-help-');
afterAll(() => tmp.cleanup());

const choices = (values: readonly string[]): string => `(choices: ${values.map((v) => `"${v}"`).join(', ')}`;
/** Help text with commander's line wrapping undone. */
const unwrapped = (text: string): string => text.replace(/\n\s+/g, ' ');

/** Every MOE_ROUTER_* name in src/, except the test-only hooks. */
function environmentNamesInSource(): string[] {
  const names = new Set<string>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) for (const m of readFileSync(path, 'utf8').matchAll(/MOE_ROUTER_[A-Z0-9_]+/g)) names.add(m[0]);
    }
  };
  walk(join(ROOT, 'src'));
  return [...names].filter((n) => !n.startsWith('MOE_ROUTER_TEST_')).sort();
}

describe('moe-router --help', () => {
  it('route --help shows the choices of --format, --output-format, --backend, --on-error and human defaults', async () => {
    const r = await runCli(['route', '--help']);
    expect(r.code).toBe(0);
    const help = unwrapped(r.out);
    expect(help).toMatch(new RegExp(`--format <format> .*${escape(choices(INPUT_FORMATS))}`));
    expect(help).toMatch(new RegExp(`--output-format <format> .*${escape(choices([...OUTPUT_FORMATS, "parquet"]))}, default: "jsonl"\\)`));
    expect(help).toMatch(new RegExp(`--backend <backend> .*${escape(choices(BACKENDS))}`));
    expect(help).toContain(choices(['fail', 'skip']));
    expect(help).toMatch(/--batch-bytes <size> .*\(default: 8 MiB\)/);
    expect(help).not.toContain('8388608');
    expect(help).toContain('Examples:');
  });

  it('calibrate --help shares the reader options, with their choices', async () => {
    const r = await runCli(['calibrate', '--help']);
    expect(unwrapped(r.out)).toContain(choices(INPUT_FORMATS));
  });

  it('names every MOE_ROUTER_ variable the code reads, and EGL_PLATFORM', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    const environment = r.out.slice(r.out.indexOf('Environment:'), r.out.indexOf('Exit codes:'));
    const names = environmentNamesInSource();
    expect(names).toEqual(expect.arrayContaining(['MOE_ROUTER_BACKEND', 'MOE_ROUTER_GPU_BACKEND', 'MOE_ROUTER_GPU_ADAPTER', 'MOE_ROUTER_DEBUG']));
    for (const name of [...names, 'EGL_PLATFORM']) expect(environment).toMatch(new RegExp(`^  ${name} `, 'm'));
  });

  it('lists every exit code', async () => {
    const r = await runCli(['--help']);
    const codes = r.out.slice(r.out.indexOf('Exit codes:'));
    for (const code of [...Object.values(EXIT).map(String), '129/130/131/143', '141']) expect(codes).toMatch(new RegExp(`^  ${code} `, 'm'));
  });

  it.each([['-v'], ['-V'], ['--version']])('%s prints the version', async (flag) => {
    const r = await runCli([flag]);
    expect(r.code).toBe(0);
    expect(r.out).toBe(`${pkg.version}\n`);
  });

  it('every example in the help runs (exit 0) on real files', async () => {
    const help = (await runCli(['--help'])).out + (await runCli(['route', '--help'])).out;
    const commands = [...new Set(help.split('\n').filter((l) => /^ {2}(cat .*\| )?moe-router /.test(l)).map((l) => l.trim()))];
    expect(commands.length).toBeGreaterThanOrEqual(8);
    const dir = tmp.dir;
    copyFileSync(join(ROOT, 'examples', 'corpus.txt'), join(dir, 'corpus.txt'));
    writeFileSync(join(dir, 'big.txt'), readFileSync(join(dir, 'corpus.txt'), 'utf8').repeat(3));
    writeFileSync(join(dir, 'data.jsonl'), '{"meta":{"text":"hello"}}\n{"meta":{"text":"fn(x) => 2"}}\n');
    writeFileSync(join(dir, 'data.csv'), 'id,text\n1,hello\n2,"a, b"\n');
    // `moe-router` on PATH is the built binary, as after an install.
    writeFileSync(join(dir, 'moe-router'), `#!/bin/sh\nexec "${process.execPath}" "${join(ROOT, 'dist', 'cli', 'main.js')}" "$@"\n`, { mode: 0o755 });
    // The examples in help order: calibrate writes cfg.json before `route --config cfg.json` reads it;
    // merge-stats needs every part of the --shard example, so that one runs for each part.
    const ordered = [...commands.filter((c) => !c.includes('merge-stats') && !c.includes('--config')), ...commands.filter((c) => c.includes('--config')), ...commands.filter((c) => c.includes('merge-stats'))];
    for (const command of ordered) {
      const runs = /--shard 0\/4/.test(command) ? [0, 1, 2, 3].map((i) => command.replace('0/4', `${i}/4`).replace('part0', `part${i}`)) : [command];
      for (const run of runs) {
        const r = spawnSync('sh', ['-c', run], { cwd: dir, env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, MOE_ROUTER_BACKEND: 'cpu' }, encoding: 'utf8' });
        expect({ run, code: r.status, stderr: r.status === 0 ? '' : r.stderr }).toEqual({ run, code: 0, stderr: '' });
      }
    }
    expect(readdirSync(join(dir, 'out')).sort()).toEqual(['expert-0.txt', 'expert-1.txt', 'expert-2.txt']);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
