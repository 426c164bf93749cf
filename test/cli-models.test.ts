/** Routing to real models: a model and prices per expert, estimated costs, calibrate --budget, route --explain. Real binary, real files. */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { jsonl, runCli, tempDir } from './helpers/cli.js';
import { describeGpu } from './helpers/gpu.js';
import { PIECES, randomBytes, randomInt, rng } from './helpers/random.js';
import { SwitchedMoE } from '../src/index.js';

const tmp = tempDir('moe-models-');
afterAll(() => tmp.cleanup());
const CPU = ['--backend', 'cpu'];

function writeJson(name: string, value: unknown): string {
  const p = tmp.path(name);
  writeFileSync(p, JSON.stringify(value));
  return p;
}

// A small corpus with CRLF, an empty line, invalid UTF-8 (0xFF and a stray continuation byte 0x80), accents, CJK and an emoji.
const GOLDEN_BYTES = Buffer.concat([
  Buffer.from('The\r\nPython\n@#$%^&*\nSupercalifragilistic\nnaïve café 😀\n\n'),
  Buffer.from([0x41, 0xff, 0x80, 0x42, 0x0a]),
  Buffer.from('日本語のテキスト\n'),
]);
const golden = tmp.path('golden.txt');
writeFileSync(golden, GOLDEN_BYTES);
const PRICED = {
  models: [
    { model: 'small', costPer1kChars: 1000, costPerRecord: 0.25 },
    { model: 'mid', costPer1kChars: 500 },
    { model: 'large', costPer1kChars: 250, costPerRecord: 2 },
  ],
};
const priced = writeJson('priced.json', PRICED);

describe('a model per expert', () => {
  it('jsonl records carry "model"; csv and tsv get a model column (quoted when needed); error records get none', async () => {
    const cfg = writeJson('labels.json', { models: ['cheap-model', 'mid, "quoted"', { model: 'big\tmodel' }] });
    const input = tmp.path('mixed.jsonl');
    writeFileSync(input, '{"text":"The"}\n{"text": broken\n{"text":"Supercalifragilistic"}\n{"text":"Python"}\n');
    const j = await runCli(['route', input, ...CPU, '-q', '--config', cfg, '--on-error', 'skip']);
    expect(j.code).toBe(0);
    expect(jsonl(j.out)).toEqual([
      { index: 0, expert: 0, complexity: 0.166656494140625, confidence: 0.1582794189453125, model: 'cheap-model' },
      { index: 1, error: expect.stringContaining('invalid JSON') },
      { index: 2, expert: 2, complexity: 0.4410400390625, confidence: 0.0745697021484375, model: 'big\tmodel' },
      { index: 3, expert: 1, complexity: 0.250823974609375, confidence: 0.533599853515625, model: 'mid, "quoted"' },
    ]);
    const c = await runCli(['route', input, ...CPU, '-q', '--config', cfg, '--on-error', 'skip', '--output-format', 'csv', '--include-text']);
    expect(c.out.split('\n').slice(0, 5)).toEqual([
      'index,expert,complexity,confidence,model,text,error',
      '0,0,0.166656494140625,0.1582794189453125,cheap-model,The,',
      expect.stringMatching(/^1,,,,,,"?line 2: invalid JSON/),
      '2,2,0.4410400390625,0.0745697021484375,big\tmodel,Supercalifragilistic,',
      '3,1,0.250823974609375,0.533599853515625,"mid, ""quoted""",Python,',
    ]);
    const t = await runCli(['route', input, ...CPU, '-q', '--config', cfg, '--on-error', 'skip', '--output-format', 'tsv']);
    expect(t.out.split('\n').slice(0, 4)).toEqual([
      'index\texpert\tcomplexity\tconfidence\tmodel\terror',
      '0\t0\t0.166656494140625\t0.1582794189453125\tcheap-model\t',
      expect.stringMatching(/^1\t\t\t\t\t"?line 2/),
      '2\t2\t0.4410400390625\t0.0745697021484375\t"big\tmodel"\t',
    ]);
  });

  it('the estimated cost in --stats and the summary equals the hand-computed golden value', async () => {
    const stats = tmp.path('golden-stats.json');
    const r = await runCli(['route', golden, ...CPU, '--config', priced, '--stats', stats, '--out', tmp.path('golden.jsonl')]);
    expect(r.code).toBe(0);
    const experts = jsonl(readFileSync(tmp.path('golden.jsonl'), 'utf8')).map((x) => x.expert);
    // the routing the costs rest on (see the README's notebook examples for the first four)
    expect(experts).toEqual([0, 1, 2, 2, 1, 0, 1, 1]);
    // characters = code points: "The" 3 (CR excluded), "" 0 | "Python" 6, "naïve café 😀" 12 (String.length would say 13),
    // A 0xFF 0x80 B: 3 (0x80 is a continuation byte), "日本語のテキスト" 8 | "@#$%^&*" 7, "Supercalifragilistic" 20
    // small: 2 records x 0.25 + 3 chars x 1000/1000 = 3.5; mid: 29 x 500/1000 = 14.5; large: 2 x 2 + 27 x 250/1000 = 10.75
    const s = JSON.parse(readFileSync(stats, 'utf8'));
    expect(s.cost).toEqual({
      models: [
        { model: 'small', costPer1kChars: 1000, costPerRecord: 0.25 },
        { model: 'mid', costPer1kChars: 500, costPerRecord: 0 },
        { model: 'large', costPer1kChars: 250, costPerRecord: 2 },
      ],
      records: [2, 4, 2],
      chars: [3, 29, 27],
      perExpert: [3.5, 14.5, 10.75],
      total: 28.75,
    });
    expect(r.stderr).toMatch(/0 {2}small +2 +3 +3\.5\n/);
    expect(r.stderr).toMatch(/total +8 +59 +28\.75\n/);
  });

  it('merge-stats of --shard parts gives the cost of the whole run; parts priced differently are refused', async () => {
    const parts = [0, 1].map((i) => tmp.path(`part-${i}.json`));
    for (const [i, p] of parts.entries()) {
      const r = await runCli(['route', golden, ...CPU, '-q', '--config', priced, '--shard', `${i}/2`, '--stats', p, '--out', '/dev/null']);
      expect(r.code).toBe(0);
    }
    const m = await runCli(['merge-stats', ...parts]);
    expect(m.code).toBe(0);
    const merged = JSON.parse(m.out);
    expect(merged.cost.records).toEqual([2, 4, 2]);
    expect(merged.cost.chars).toEqual([3, 29, 27]);
    expect(merged.cost.total).toBe(28.75);
    expect(m.stderr).toMatch(/total +8 +59 +28\.75\n/);
    const other = writeJson('other.json', { models: ['a', 'b', 'c'] });
    const p2 = tmp.path('part-1-other.json');
    await runCli(['route', golden, ...CPU, '-q', '--config', other, '--shard', '1/2', '--stats', p2, '--out', '/dev/null']);
    const bad = await runCli(['merge-stats', parts[0], p2]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('different models or prices');
  });

  it('a config with models and no expert count routes to as many experts as models', async () => {
    const cfg = writeJson('two.json', { models: ['fast', 'smart'] });
    const r = await runCli(['route', golden, ...CPU, '-q', '--config', cfg]);
    expect(r.code).toBe(0);
    expect(new Set(jsonl(r.out).map((x) => x.model))).toEqual(new Set(['fast', 'smart']));
  });

  it.each([
    [{ models: 'gpt' }, 'config CFG: models must be an array with one entry per expert, got a string ("gpt")'],
    [{ numExperts: 3, models: ['a', 'b'] }, 'models has 2 entries but the router has 3 experts'],
    [{ models: ['a', { model: 'b', costPer1kChars: '0.5' }] }, 'models[1].costPer1kChars must be a number >= 0, got a string ("0.5")'],
    [{ models: [{ model: 'a', costPerRecord: -1 }, 'b'] }, 'models[0].costPerRecord must be a number >= 0, got the number -1'],
    [{ models: [{ name: 'a' }, 'b'] }, 'models[0]: unknown key name (known: model, costPer1kChars, costPerRecord)'],
    [{ models: [{ costPerRecord: 1 }, 'b'] }, 'models[0].model must be a non-empty string, got nothing'],
    [{ models: [42, 'b'] }, 'models[0] must be a label string or an object'],
  ])('config %j: exit 2 with a message naming the key and the type found', async (config, message) => {
    const cfg = writeJson('bad-models.json', config);
    const r = await runCli(['route', golden, ...CPU, '--config', cfg]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message.replace('CFG', cfg));
    expect(r.out).toBe('');
  });
});

describe('calibrate --budget', () => {
  const models = writeJson('budget-models.json', {
    models: [
      { model: 'mini', costPer1kChars: 0.15 },
      { model: 'mid', costPer1kChars: 1, costPerRecord: 0.001 },
      { model: 'big', costPer1kChars: 5, costPerRecord: 0.002 },
    ],
  });

  async function routedCost(boundaries: number[]): Promise<number> {
    const cfg = writeJson('try.json', { ...JSON.parse(readFileSync(models, 'utf8')), boundaries });
    const stats = tmp.path('try-stats.json');
    const r = await runCli(['route', 'examples/corpus.txt', ...CPU, '-q', '--config', cfg, '--stats', stats, '--out', '/dev/null']);
    expect(r.code).toBe(0);
    return JSON.parse(readFileSync(stats, 'utf8')).cost.total as number;
  }

  it('meets the budget, and no boundary can go lower without breaking it (the most goes to the top experts)', async () => {
    const budget = 1;
    const written = tmp.path('budget-config.json');
    const r = await runCli(['calibrate', 'examples/corpus.txt', ...CPU, '--config', models, '--budget', String(budget), '--write-config', written, '--json']);
    expect(r.code).toBe(0);
    const cal = JSON.parse(r.out);
    expect(cal.total).toBeLessThanOrEqual(budget);
    const config = JSON.parse(readFileSync(written, 'utf8'));
    expect(config.models).toHaveLength(3);
    expect(config.boundaries).toEqual(cal.boundaries);
    // route with the written config: the same total, under the budget
    const stats = tmp.path('budget-route.json');
    const routed = await runCli(['route', 'examples/corpus.txt', ...CPU, '-q', '--config', written, '--stats', stats, '--out', '/dev/null']);
    expect(routed.code).toBe(0);
    const s = JSON.parse(readFileSync(stats, 'utf8'));
    expect(s.cost.total).toBe(cal.total);
    expect(s.cost.total).toBeLessThanOrEqual(budget);
    expect(s.perExpert).toEqual(cal.counts);
    expect(cal.counts[2]).toBeGreaterThan(0);
    // each boundary is the lowest score it sends up
    const recs = jsonl((await runCli(['route', 'examples/corpus.txt', ...CPU, '-q', '--config', written])).out);
    const scoresOf = (f: (e: number) => boolean): number[] => recs.filter((x) => f(x.expert as number)).map((x) => (x.complexity as number) * 65536);
    const [b1, b2] = cal.boundariesQ16 as number[];
    expect(Math.min(...scoresOf((e) => e === 2))).toBe(b2);
    expect(Math.min(...scoresOf((e) => e === 1))).toBe(b1);
    // sending one more score to the top expert (the other boundary packed right under it, the cheapest) breaks the budget
    const nextDown2 = Math.max(...scoresOf((e) => e < 2));
    expect(await routedCost([(nextDown2 - 1) / 65536, nextDown2 / 65536])).toBeGreaterThan(budget);
    // with the top one fixed, sending one more score to expert 1 breaks it too
    const nextDown1 = Math.max(...scoresOf((e) => e === 0));
    expect(await routedCost([nextDown1 / 65536, b2 / 65536])).toBeGreaterThan(budget);
  });

  it('prints the table; a budget below the cheapest routing, falling prices or no models are clear errors', async () => {
    const ok = await runCli(['calibrate', 'examples/corpus.txt', ...CPU, '--config', models, '--budget', '1']);
    expect(ok.code).toBe(0);
    expect(ok.out).toContain('calibrated 3 experts for a budget of 1 on 60 records');
    expect(ok.out).toMatch(/estimated total [\d.]+ of the budget 1/);
    const low = await runCli(['calibrate', 'examples/corpus.txt', ...CPU, '--config', models, '--budget', '0.01']);
    expect(low.code).toBe(2);
    expect(low.stderr).toContain('the budget 0.01 is below the lowest cost these models can give on this corpus');
    const falling = writeJson('falling.json', { models: [{ model: 'a', costPerRecord: 2 }, { model: 'b', costPerRecord: 1 }] });
    const f = await runCli(['calibrate', 'examples/corpus.txt', ...CPU, '--config', falling, '--budget', '5']);
    expect(f.code).toBe(2);
    expect(f.stderr).toContain('models[1] ("b") has costPerRecord 1 < 2 of models[0] ("a")');
    const none = await runCli(['calibrate', 'examples/corpus.txt', ...CPU, '--budget', '5']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('--budget needs --config FILE with "models"');
    const both = await runCli(['calibrate', 'examples/corpus.txt', ...CPU, '--config', models, '--budget', '5', '--target', '0.5,0.3,0.2']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('not both');
  });
});

/** The top feature as SwitchedMoE.explain reports it: the largest contribution, the first one on a tie. */
function topFeature(moe: SwitchedMoE, text: string): { feature: string; contribution: number } {
  let best = { feature: '', contribution: -1 };
  for (const f of moe.explain(text).features) if (f.contribution > best.contribution) best = { feature: f.name, contribution: f.contribution };
  return best;
}

describe('route --explain', () => {
  // the sample corpus plus random text of every script and class
  const r = rng(9);
  const lines = readFileSync('examples/corpus.txt', 'utf8').split('\n').filter((l) => l !== '');
  for (let i = 0; i < 1500; i++) {
    let s = '';
    const n = randomInt(r, 12);
    for (let k = 0; k < n; k++) s += PIECES[randomInt(r, PIECES.length)].replace(/[\r\n]/g, '');
    lines.push(s);
  }
  const input = tmp.path('explain.txt');
  writeFileSync(input, lines.join('\n') + '\n');

  it('each record\'s "cause" is SwitchedMoE.explain\'s top feature, name and contribution', async () => {
    const out = await runCli(['route', input, ...CPU, '-q', '--explain', '--batch-records', '500']);
    expect(out.code).toBe(0);
    const recs = jsonl(out.out);
    expect(recs).toHaveLength(lines.length);
    const moe = new SwitchedMoE({ backend: 'cpu' });
    recs.forEach((rec, i) => expect(rec.cause, `record ${i} ${JSON.stringify(lines[i])}`).toEqual(topFeature(moe, lines[i])));
    // pinned: a long single word is caused by its token length, a short phrase by its length
    expect(recs[lines.indexOf('Supercalifragilistic')].cause).toEqual({ feature: 'tokenLength', contribution: 0.23 });
    expect(recs[lines.indexOf('AI and ML')].cause).toEqual({ feature: 'length', contribution: 0.0675 });
  });

  it('csv gets cause and cause_contribution columns, after the model column', async () => {
    const c = await runCli(['route', golden, ...CPU, '-q', '--explain', '--config', priced, '--output-format', 'csv', '--include-text']);
    expect(c.code).toBe(0);
    const rows = c.out.trim().split('\n');
    expect(rows[0]).toBe('index,expert,complexity,confidence,model,cause,cause_contribution,text');
    const moe = new SwitchedMoE({ backend: 'cpu' });
    const texts = ['The', 'Python', '@#$%^&*', 'Supercalifragilistic', 'naïve café 😀', ''];
    texts.forEach((t, i) => {
      const f = rows[i + 1].split(',');
      expect({ feature: f[5], contribution: Number(f[6]) }).toEqual(topFeature(moe, t));
    });
    expect(rows[1]).toBe('0,0,0.166656494140625,0.1582794189453125,small,tokenLength,0.07666549682617188,The');
  });
});

describeGpu('route --explain on the GPU', () => {
  it('gives the same bytes as the CPU, invalid UTF-8 included (the GPU returns the same statistics)', async () => {
    const input = tmp.path('gpu-explain.txt');
    const noise = Buffer.from(randomBytes(rng(3), 4000)); // about 16 LF bytes: lines of random bytes
    writeFileSync(input, Buffer.concat([readFileSync('examples/corpus.txt'), noise, Buffer.from('\n')]));
    const args = ['route', input, '-q', '--explain', '--config', priced, '--stats'];
    const gpu = await runCli([...args, tmp.path('gpu-stats.json'), '--backend', 'gpu']);
    const cpu = await runCli([...args, tmp.path('cpu-stats.json'), '--backend', 'cpu']);
    expect(gpu.code).toBe(0);
    expect(cpu.code).toBe(0);
    expect(JSON.parse(readFileSync(tmp.path('gpu-stats.json'), 'utf8')).backend).toBe('gpu');
    expect(gpu.out).toBe(cpu.out);
    expect(JSON.parse(readFileSync(tmp.path('gpu-stats.json'), 'utf8')).cost).toEqual(JSON.parse(readFileSync(tmp.path('cpu-stats.json'), 'utf8')).cost);
    expect(jsonl(gpu.out)[0].cause).toEqual({ feature: 'tokenLength', contribution: expect.any(Number) });
  });
});
