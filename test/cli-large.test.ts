/**
 * Corpus-scale behaviour of the real binary: 1 million records routed on the
 * GPU (the software adapter here) and on the CPU give byte-identical output;
 * a 200 MB line is routed whole; a device lost mid-run finishes on the CPU
 * with output identical to a CPU run.
 */
import { createWriteStream, readFileSync, statSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { jsonl, prng, runCli, stderrLines, tempDir } from './helpers/cli.js';
import { SwitchedMoE } from '../src/index.js';

const tmp = tempDir('moe-large-');
afterAll(() => tmp.cleanup());

const WORDS = ['the', 'Router', 'x=1;', 'naïve', 'über', '東京', '🙂', 'fn(a,b)', 'HTTP/2', '42', 'lorem', '\t', 'a_b_c', 'QUIET', '—', '\u0000'];

async function writeCorpus(path: string, records: number, seed: number): Promise<void> {
  const rand = prng(seed);
  const out = createWriteStream(path);
  let buf = '';
  for (let i = 0; i < records; i++) {
    const n = Math.floor(rand() * 5);
    let line = '';
    for (let w = 0; w < n; w++) line += (w ? ' ' : '') + WORDS[Math.floor(rand() * WORDS.length)];
    buf += line + (rand() < 0.1 ? '\r\n' : '\n');
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await new Promise<void>((r) => out.once('drain', () => r()));
      buf = '';
    }
  }
  out.end(buf);
  await new Promise<void>((r) => out.on('finish', () => r()));
}

describe('corpus scale', () => {
  it('1,000,000 records: GPU and CPU outputs are byte-identical', async () => {
    const file = tmp.path('million.txt');
    await writeCorpus(file, 1_000_000, 2024);
    const gpu = await runCli(['route', file, '--backend', 'gpu', '--out', tmp.path('gpu.jsonl'), '--stats', tmp.path('gpu.json'), '--batch-bytes', '2M']);
    expect(gpu.code).toBe(0);
    const cpu = await runCli(['route', file, '--backend', 'cpu', '--out', tmp.path('cpu.jsonl'), '--stats', tmp.path('cpu.json')]);
    expect(cpu.code).toBe(0);
    const a = readFileSync(tmp.path('gpu.jsonl'));
    const b = readFileSync(tmp.path('cpu.jsonl'));
    expect(a.length).toBeGreaterThan(40_000_000);
    expect(a.equals(b)).toBe(true);
    const gs = JSON.parse(readFileSync(tmp.path('gpu.json'), 'utf8'));
    const cs = JSON.parse(readFileSync(tmp.path('cpu.json'), 'utf8'));
    expect(gs.backend).toBe('gpu');
    expect(cs.backend).toBe('cpu');
    expect(gs.recordsIn).toBe(1_000_000);
    expect(gs.recordsOut).toBe(1_000_000);
    expect(gs.perExpert).toEqual(cs.perExpert);
    expect(gs.bytes).toBe(statSync(file).size);
  }, 120_000);

  it('a 200 MB line is routed whole (not truncated, not fatal), between ordinary lines', async () => {
    const file = tmp.path('huge.txt');
    const big = Buffer.alloc(200 * 1024 * 1024, 'Word, 42 ünï ');
    writeFileSync(file, Buffer.concat([Buffer.from('before\n'), big, Buffer.from('\r\nafter')]));
    const r = await runCli(['route', file, '--backend', 'cpu', '--batch-bytes', '64K', '--stats', tmp.path('huge.json')]);
    expect(r.code).toBe(0);
    const recs = jsonl(r.out);
    expect(recs.map((x) => x.index)).toEqual([0, 1, 2]);
    const moe = new SwitchedMoE({ backend: 'cpu' });
    const ref = await moe.routeBatch({ bytes: big, offsets: new Uint32Array([0, big.length]) });
    await moe.dispose();
    expect(recs[1].complexity).toBe(ref.scoresQ16[0] / 65536);
    expect(recs[1].expert).toBe(ref.experts[0]);
    expect(JSON.parse(readFileSync(tmp.path('huge.json'), 'utf8')).bytes).toBe(big.length + 14);
  }, 120_000);

  it('a device lost mid-run: later batches go to the CPU with one warning, output identical to a CPU run', async () => {
    const file = tmp.path('loss.txt');
    await writeCorpus(file, 20_000, 99);
    const args = ['route', file, '--batch-records', '1000', '--stats', tmp.path('loss.json')];
    const lost = await runCli([...args, '--backend', 'gpu'], { env: { MOE_ROUTER_TEST_LOSE_DEVICE_AFTER_BATCHES: '3' } });
    expect(lost.code).toBe(0);
    const warnings = stderrLines(lost.stderr).filter((l) => l.includes('warning'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/device was lost.*routed on the CPU/);
    const s = JSON.parse(readFileSync(tmp.path('loss.json'), 'utf8'));
    expect(s.cpuFallbackBatches).toBe(17);
    expect(s.backend).toBe('gpu+cpu');
    const cpu = await runCli(['route', file, '--batch-records', '1000', '--backend', 'cpu', '-q']);
    expect(lost.stdout.equals(cpu.stdout)).toBe(true);
    expect(jsonl(lost.out)).toHaveLength(20_000);
    // 'auto' falls back too (inside the engine), with identical output
    const auto = await runCli(['route', file, '--batch-records', '1000', '--backend', 'auto', '-q'], { env: { MOE_ROUTER_TEST_LOSE_DEVICE_AFTER_BATCHES: '3' } });
    expect(auto.code).toBe(0);
    expect(auto.stdout.equals(cpu.stdout)).toBe(true);
  }, 120_000);
});
