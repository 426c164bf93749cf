/** ComplexityDashboard: the notebook interface, the batch form, exact bounded aggregates, snapshots, merging. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { routerFingerprint } from '../src/model/router-fingerprint.js';
import { resolveRouterConfig } from '../src/model/router-config.js';
import { ComplexityDashboard } from '../src/dashboard/complexity-dashboard.js';
import { BINS, LatencyHistogram, Reservoir, TimeSeries, binOf, cutText, seededRandom } from '../src/dashboard/aggregates.js';
import { escapeHtml, jsonForScript, renderReport } from '../src/dashboard/report.js';
import { NO_EXPERT } from '../src/job/events.js';
import { SwitchedMoE, packStrings } from '../src/index.js';
import { ROOT } from './helpers/cli.js';
import { rng } from './helpers/random.js';

/** A synthetic routed batch: scores spread over [0, 1], experts from the default 3-expert boundaries. */
function batchOf(n: number, seed: number, withErrors = false): { experts: Uint32Array; scoresQ16: Uint32Array; confidenceQ16: Uint32Array } {
  const r = rng(seed);
  const experts = new Uint32Array(n);
  const scoresQ16 = new Uint32Array(n);
  const confidenceQ16 = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const s = Math.floor(r() * 65537);
    scoresQ16[i] = s;
    experts[i] = s >= 25952 ? 2 : s >= 12976 ? 1 : 0;
    confidenceQ16[i] = Math.floor(r() * 65536);
    if (withErrors && i % 97 === 13) experts[i] = NO_EXPERT;
  }
  return { experts, scoresQ16, confidenceQ16 };
}

describe('ComplexityDashboard', () => {
  it("ports the notebook's loop one to one and counts exactly", async () => {
    const moe = new SwitchedMoE({ numExperts: 3, complexityThreshold: 0.6 });
    const dashboard = new ComplexityDashboard({ numExperts: 3 });
    const texts = ['The', 'Python', 'Programming', 'AI and ML', '@#$%^&*', 'Supercalifragilistic'];
    for (const text of texts) {
      const c = moe.computeComplexity(text);
      const e = moe.route(text);
      dashboard.updateMetrics('text_complexity', c);
      dashboard.updateMetrics('expert_assignment', e);
      dashboard.updateMetrics('processing_time', 0.002);
    }
    await moe.dispose();
    const s = dashboard.snapshot();
    // the README's table: The -> 0; Python, Programming, AI and ML -> 1; the last two -> 2
    expect(s.perExpert).toEqual([1, 3, 2]);
    expect(s.totals.routed).toBe(6);
    expect(s.histogram.counts.reduce((a, b) => a + b, 0)).toBe(6);
    // 'Python' scores 0.250823974609375 = 16438 / 65536: its bin is 16438 >> 8 = 64
    expect(s.histogram.counts[64]).toBeGreaterThanOrEqual(1);
    expect(s.sample.records.map((r) => r.scoreQ16)).toContain(16438);
    expect(s.sample.records.find((r) => r.scoreQ16 === 16438)?.confidenceQ16).toBe(Math.round(0.533599853515625 * 65536));
    expect(s.latency.count).toBe(6);
    expect(s.latency.p50).toBeGreaterThan(1.8);
    expect(s.latency.p50).toBeLessThan(2.2);
  });

  it('refuses values outside the notebook metrics', () => {
    const d = new ComplexityDashboard();
    expect(() => d.updateMetrics('text_complexity', 1.5)).toThrow(/\[0, 1\]/);
    expect(() => d.updateMetrics('expert_assignment', 3)).toThrow(/0\.\.2/);
    expect(() => d.updateMetrics('bogus' as 'text', 1)).toThrow(/unknown metric/);
  });

  it('takes a batch as one call, with an exact histogram and invariants', () => {
    const d = new ComplexityDashboard({ seed: 7 });
    const b = batchOf(200_000, 1, true);
    d.updateBatch({ ...b, inputBytes: 1_000_000, latencyMs: 12 });
    const s = d.snapshot();
    const expectedHist = new Array<number>(BINS).fill(0);
    const expectedPer = [0, 0, 0];
    let errors = 0;
    for (let i = 0; i < b.experts.length; i++) {
      if (b.experts[i] === NO_EXPERT) {
        errors++;
        continue;
      }
      expectedHist[Math.min(BINS - 1, b.scoresQ16[i] >> 8)]++;
      expectedPer[b.experts[i]]++;
    }
    expect(s.histogram.counts).toEqual(expectedHist);
    expect(s.perExpert).toEqual(expectedPer);
    expect(s.totals.errors).toBe(errors);
    expect(s.totals.routed + s.totals.errors).toBe(200_000);
    expect(s.histogram.counts.reduce((a, c) => a + c, 0)).toBe(s.perExpert.reduce((a, c) => a + c, 0));
    expect(binOf(65536)).toBe(BINS - 1);
  });

  it('keeps its snapshot under a fixed size whatever the corpus, with a minimum per expert', () => {
    const d = new ComplexityDashboard({ seed: 3, sampleSize: 500, minPerExpert: 8 });
    const texts = packStrings(Array.from({ length: 5000 }, (_, i) => `record ${i} ` + 'x'.repeat(i % 700)));
    let size1 = 0;
    for (let k = 0; k < 40; k++) {
      const b = batchOf(5000, 100 + k);
      // expert 0 is rare: only a handful of its records exist in the whole corpus
      for (let i = 0; i < 5000; i++) if (b.experts[i] === 0 && !(k === 3 && i < 500)) b.experts[i] = 1;
      d.updateBatch({ ...b, text: texts, inputBytes: 5000 * 40, latencyMs: 1 + k });
      if (k === 0) size1 = JSON.stringify(d.snapshot()).length;
    }
    const s = d.snapshot();
    const json = JSON.stringify(s);
    expect(s.totals.routed).toBe(200_000);
    expect(s.sample.records.length).toBeLessThanOrEqual(500 + 3 * 8);
    expect(s.sample.records.filter((r) => r.expert === 0).length).toBeGreaterThanOrEqual(8);
    expect(s.sample.records.every((r) => Array.from(r.text).length <= 120)).toBe(true);
    expect(s.series.points.length).toBeLessThanOrEqual(120);
    // 40x the records, about the same snapshot
    expect(json.length).toBeLessThan(size1 * 1.5 + 10_000);
    expect(json.length).toBeLessThan(400_000);
  });

  it('draws the same sample for the same seed, and a different one for another seed', () => {
    const run = (seed: number): number[] => {
      const d = new ComplexityDashboard({ seed, sampleSize: 50 });
      for (let k = 0; k < 5; k++) d.updateBatch(batchOf(10_000, k));
      return d.snapshot().sample.records.map((r) => r.index);
    };
    expect(run(11)).toEqual(run(11));
    expect(run(11)).not.toEqual(run(12));
  });

  it('samples uniformly (reservoir algorithm L)', () => {
    const hits = new Array<number>(10).fill(0);
    for (let t = 0; t < 200; t++) {
      const res = new Reservoir(10, seededRandom(t + 1));
      for (let i = 0; i < 1000; i++) {
        const slot = res.offer();
        if (slot >= 0) res.put(slot, { index: i, scoreQ16: 0, expert: 0, confidenceQ16: 0, text: '' });
      }
      for (const r of res.items) hits[Math.floor(r.index / 100)]++;
    }
    // 2000 picks over 10 deciles: each about 200
    for (const h of hits) expect(h).toBeGreaterThan(140);
    for (const h of hits) expect(h).toBeLessThan(260);
  });

  it('coarsens the time series instead of growing', () => {
    const ts = new TimeSeries(8, 100);
    for (let t = 0; t < 10_000; t += 50) ts.add(t, 10, 100, 5);
    expect(ts.points.length).toBeLessThanOrEqual(8);
    expect(ts.points.reduce((a, p) => a + p.records, 0)).toBe(2000);
    expect(ts.bucketMs).toBe(1600);
  });

  it('gives latency percentiles within a bucket', () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 1000; i++) h.add(i);
    expect(h.percentile(0.5)).toBeGreaterThanOrEqual(500);
    expect(h.percentile(0.5)).toBeLessThan(500 * 1.1);
    expect(h.percentile(0.99)).toBeGreaterThanOrEqual(990);
    expect(h.summary().max).toBe(1000);
  });

  it('cuts texts to 120 characters without splitting a character', () => {
    const bytes = new TextEncoder().encode('東'.repeat(300));
    const t = cutText(bytes, 0, bytes.length);
    expect(Array.from(t)).toHaveLength(120);
    expect(t.endsWith('…')).toBe(true);
    expect(t).not.toContain('\uFFFD');
  });

  it('keeps a U+FEFF that starts a record: it is text there, not a byte order mark', () => {
    const bytes = new TextEncoder().encode('\uFEFFx = 1');
    expect(cutText(bytes, 0, bytes.length)).toBe('\uFEFFx = 1');
  });

  it('notifies subscribers with a growing sequence number, and stops after unsubscribe', () => {
    const d = new ComplexityDashboard();
    const seen: number[] = [];
    const off = d.subscribe((u) => seen.push(u.seq));
    d.updateBatch(batchOf(10, 1));
    d.updateBatch(batchOf(10, 2));
    off();
    d.updateBatch(batchOf(10, 3));
    expect(seen).toEqual([1, 2]);
    expect(d.snapshot().seq).toBe(3);
  });

  it('merges the parts of a sharded run into the whole, from dashboards, snapshots and stats', () => {
    const whole = new ComplexityDashboard({ seed: 5 });
    const a = new ComplexityDashboard({ seed: 5 });
    const b = new ComplexityDashboard({ seed: 6 });
    const b1 = batchOf(30_000, 21, true);
    const b2 = batchOf(20_000, 22, true);
    whole.updateBatch({ ...b1, firstIndex: 0 });
    whole.updateBatch({ ...b2, firstIndex: 30_000 });
    a.updateBatch({ ...b1, firstIndex: 0 });
    b.updateBatch({ ...b2, firstIndex: 30_000 });
    a.finish();
    b.finish();
    const merged = ComplexityDashboard.forMerging().merge(a).merge(b.snapshot()).snapshot();
    const w = whole.snapshot();
    expect(merged.histogram.counts).toEqual(w.histogram.counts);
    expect(merged.perExpert).toEqual(w.perExpert);
    expect(merged.totals.routed).toBe(w.totals.routed);
    expect(merged.totals.errors).toBe(w.totals.errors);
    expect(merged.extremes.most.map((r) => r.scoreQ16)).toEqual(w.extremes.most.map((r) => r.scoreQ16));
    expect(merged.extremes.least.map((r) => r.scoreQ16)).toEqual(w.extremes.least.map((r) => r.scoreQ16));
    expect(merged.sample.records.length).toBeLessThanOrEqual(1000 + 3 * 8);
    expect(merged.run.parts).toBe(2);
    expect(merged.state).toBe('done');

    // a --stats file brings counts only: they go to perExpert and histogram.unbinned
    const stats = {
      version: 2 as const, input: 'x', format: 'lines',
      inputFingerprint: { path: 'x', size: 99, mtimeMs: 0, sample: 'ab' },
      router: routerFingerprint(resolveRouterConfig({})), recordsIn: 10, recordsOut: 10, routed: 9, errors: 1, bytes: 99, numExperts: 3,
      boundaries: [0.198, 0.396], perExpert: [2, 3, 4], shares: [2 / 9, 3 / 9, 4 / 9], backend: 'cpu', adapter: 'CPU', cpuFallbackBatches: 0,
      seconds: 1, mbPerSecond: 0, maxRssBytes: 0, complete: true,
    };
    const withStats = ComplexityDashboard.forMerging().merge(a).merge(stats).snapshot();
    expect(withStats.perExpert).toEqual(a.snapshot().perExpert.map((n, e) => n + stats.perExpert[e]));
    expect(withStats.histogram.unbinned).toBe(9);
    expect(withStats.histogram.counts.reduce((x, y) => x + y, 0) + withStats.histogram.unbinned).toBe(withStats.perExpert.reduce((x, y) => x + y, 0));
  });
});

describe('report HTML', () => {
  it('escapes texts in the summary and keeps the JSON block inert', () => {
    expect(escapeHtml(`<img src=x onerror="a('b')">&`)).toBe('&lt;img src=x onerror=&quot;a(&#39;b&#39;)&quot;&gt;&amp;');
    const json = jsonForScript({ t: '</script><script>alert(1)</script>\u2028\u2029<!--' });
    expect(json).not.toMatch(/[<>\u2028\u2029]/);
    expect(JSON.parse(json)).toEqual({ t: '</script><script>alert(1)</script>\u2028\u2029<!--' });
    const d = new ComplexityDashboard();
    const payload = '</script><script>alert(1)</script>';
    d.updateMetrics('text', payload);
    d.updateMetrics('text_complexity', 0.9);
    d.updateMetrics('expert_assignment', 2);
    d.finish();
    const html = renderReport(d.snapshot());
    expect(html).not.toContain(payload);
    expect(html).toContain('&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toMatch(/<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;; script-src &#39;sha256-/);
    // nothing is loaded from anywhere: no external script, stylesheet or image
    expect(html).not.toMatch(/(src|href)\s*=\s*["']?\s*(https?:)?\/\//i);
  });
});

describe('dashboard code', () => {
  it('never uses innerHTML or other HTML-string sinks', () => {
    const dir = join(ROOT, 'src', 'dashboard');
    const files: string[] = [];
    const walk = (d: string): void => {
      for (const f of readdirSync(d)) {
        const p = join(d, f);
        if (statSync(p).isDirectory()) walk(p);
        else files.push(p);
      }
    };
    walk(dir);
    expect(files.some((f) => f.endsWith('app.js'))).toBe(true);
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      for (const sink of ['innerHTML', 'outerHTML', 'insertAdjacentHTML', 'document.write', 'eval(', 'new Function']) {
        expect(text.includes(sink), `${sink} in ${f}`).toBe(false);
      }
    }
  });
});
