/** Runs the built CLI (dist/cli/main.js) as a user would: a spawned Node process. Build first (npm test does). */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const CLI = join(ROOT, 'dist', 'cli', 'main.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
  out: string;
}

export interface CliRun {
  input?: string | Buffer;
  env?: Record<string, string>;
  cwd?: string;
}

export function runCli(args: string[], opts: CliRun = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.stdin.on('error', () => undefined);
    child.on('close', (code, signal) => {
      const stdout = Buffer.concat(out);
      resolvePromise({ code, signal, stdout, stderr: Buffer.concat(err).toString('utf8'), out: stdout.toString('utf8') });
    });
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}

/** Parses JSONL output into objects. */
export function jsonl(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

export function tempDir(prefix = 'moe-cli-'): { dir: string; path: (name: string) => string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, path: (name) => join(dir, name), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** stderr without Dawn's native adapter warnings (GPU runs). */
export function stderrLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l !== '' && !l.startsWith('Warning: max'));
}

/** A seeded PRNG: the one the other tests use. */
export { rng as prng } from './random.js';

/** Runs a bash pipeline in which $CLI is the built binary (for `head -c ... | $CLI route -`). */
export function shell(cmd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('bash', ['-c', `set -o pipefail; ${cmd}`], { cwd: ROOT, env: { ...process.env, CLI: `${process.execPath} ${CLI}` } });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
  });
}

/** The one `moe-router: error:` line of a run's stderr (fails the test if there is not exactly one). */
export function errorLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l.startsWith('moe-router: error:'));
  if (lines.length !== 1) throw new Error(`expected one error line on stderr, got ${lines.length}:\n${stderr}`);
  return lines[0];
}
