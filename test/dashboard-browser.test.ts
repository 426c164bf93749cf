/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core):
 * live counts during a real run fed slowly through a pipe (CPU and GPU), late
 * connect and reconnect, the offline report from disk with the network cut,
 * XSS payloads inert, and screenshots for a person to look at. One browser
 * launch for the whole file.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ComplexityDashboard } from '../src/dashboard/complexity-dashboard.js';
import { startDashboardServer } from '../src/dashboard/server.js';
import type { RunStats } from '../src/job/run-stats.js';
import { artifactPath, describeBrowser, launchBrowser, watch, type PageWatch } from './helpers/browser.js';
import { CLI, ROOT, runCli, tempDir } from './helpers/cli.js';
import { describeGpu } from './helpers/gpu.js';
import { rng } from './helpers/random.js';

/** Record texts that would run code if they were ever treated as markup. */
const PAYLOADS = [
  '<script>window.__xss = 1; alert(1)</script>',
  '"><img src=x onerror="window.__xss = 2; alert(2)">',
  '</script><script>window.__xss = 3; alert(3)</script>',
  '<!--<script>window.__xss = 4; alert(4)</script>',
];

const WORDS = ['the', 'cat', 'Python', 'fn(x) => x * 2;', 'Übergrößenträger', 'Ωμέγα', '42', '@#$%', 'Mixture-of-Experts', 'routing', 'a', 'ok'];

/** A deterministic corpus with every payload many times. */
function corpus(n: number, seed: number): string[] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, i) => {
    if (i % 20 === 7) return PAYLOADS[(i / 20) % PAYLOADS.length | 0];
    const k = 1 + Math.floor(r() * 8);
    return Array.from({ length: k }, () => WORDS[Math.floor(r() * WORDS.length)]).join(' ');
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls a page expression through the protocol (Playwright's waitForFunction evaluates strings with eval, which the page's CSP forbids). */
async function waitFor(page: Page, expression: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await page.evaluate<boolean>(expression))) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${expression}`);
    await sleep(50);
  }
}

const num = (page: Page, id: string): Promise<number> => page.evaluate<number>(`Number(document.getElementById(${JSON.stringify(id)}).getAttribute('data-value'))`);
const loadCounts = (page: Page): Promise<number[]> => page.evaluate<number[]>("Array.from(document.querySelectorAll('#load-table td.count')).map((e) => Number(e.getAttribute('data-value')))");
const textOf = (page: Page, selector: string): Promise<string> => page.evaluate<string>(`document.querySelector(${JSON.stringify(selector)}).textContent`);

/** Nothing of the payloads ran or was injected. */
async function expectInert(page: Page, w: PageWatch, ownScripts: number): Promise<void> {
  expect(w.dialogs).toEqual([]);
  expect(w.pageErrors).toEqual([]);
  expect(w.consoleErrors).toEqual([]);
  expect(await w.cspViolations()).toEqual([]);
  expect(await page.evaluate<unknown>('window.__xss')).toBeUndefined();
  expect(await page.evaluate<number>("document.querySelectorAll('img, iframe, object, embed').length")).toBe(0);
  expect(await page.evaluate<number>("document.querySelectorAll('script').length")).toBe(ownScripts);
  // and they show as the text they are
  const table = await textOf(page, '#sample-table');
  for (const p of PAYLOADS) expect(table).toContain(p);
}

/** Moves the mouse over the scatter until a point's tooltip shows; returns its text. */
async function hoverScatter(page: Page): Promise<string | null> {
  await page.locator('#scatter-chart .u-over').scrollIntoViewIfNeeded();
  const box = await page.locator('#scatter-chart .u-over').boundingBox();
  if (!box) return null;
  for (let y = box.y + 4; y < box.y + box.height; y += 5) {
    for (let x = box.x + 4; x < box.x + box.width; x += 5) {
      await page.mouse.move(x, y);
      if (await page.evaluate<boolean>("!document.getElementById('tooltip').hidden")) return textOf(page, '#tooltip .tip-text');
    }
  }
  return null;
}

/** Colourful pixels drawn on a chart's canvas (data, not the grey axes). */
const colouredPixels = (page: Page, id: string): Promise<number> =>
  page.evaluate<number>(`(() => {
    const c = document.querySelector('#${id} canvas');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 200 && Math.max(d[i], d[i + 1], d[i + 2]) - Math.min(d[i], d[i + 1], d[i + 2]) > 60) n++;
    return n;
  })()`);

function waitForUrl(child: ChildProcessWithoutNullStreams): Promise<string> {
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString();
      const m = /http:\/\/127\.0\.0\.1:\d+\/\S+\//.exec(err);
      if (m) resolve(m[0]);
    });
    child.on('close', () => reject(new Error(`exited before printing the URL: ${err}`)));
  });
}

describeBrowser('dashboard in a real browser', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
  });

  /** A real run fed slowly through a pipe, watched live by one page from the start and one that connects late. */
  async function liveRun(backend: 'cpu' | 'gpu'): Promise<void> {
    const t = tempDir();
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const w = await watch(page);
    let late: Page | null = null;
    const child = spawn(process.execPath, [CLI, 'route', '-', '--backend', backend, '--batch-records', '100', '--stats', t.path('stats.json'), '--out', t.path('out.jsonl'), '--dashboard'], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    try {
      child.stdin.on('error', () => undefined);
      const url = await waitForUrl(child);
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/[0-9a-f]{24}\/$/);
      await page.goto(url);
      const lines = corpus(3000, backend === 'cpu' ? 1 : 2);
      const seen: number[] = [];
      for (let k = 0; k < 30; k++) {
        child.stdin.write(lines.slice(k * 100, (k + 1) * 100).join('\n') + '\n');
        await sleep(150);
        seen.push(await num(page, 'st-records'));
        if (k === 15) {
          // a browser that connects mid-run is complete at once
          late = await browser.newPage();
          await late.goto(url);
          await waitFor(late, "Number(document.getElementById('st-records').getAttribute('data-value')) > 0");
          expect(await late.evaluate<string>("document.getElementById('st-state').getAttribute('data-state')")).toBe('live');
        }
      }
      child.stdin.end();
      await page.waitForSelector('body[data-ready="1"]', { timeout: 60_000 });
      const stats = JSON.parse(readFileSync(t.path('stats.json'), 'utf8')) as RunStats;
      expect(stats.recordsOut).toBe(3000);
      // the counts moved while the run went on
      const during = new Set(seen.filter((v) => v > 0 && v < stats.recordsOut));
      expect(during.size).toBeGreaterThanOrEqual(3);
      // at done, the page shows the run's --stats
      for (const p of late ? [page, late] : [page]) {
        await p.waitForSelector('body[data-ready="1"]', { timeout: 30_000 });
        expect(await num(p, 'st-records')).toBe(stats.recordsOut);
        expect(await num(p, 'st-routed')).toBe(stats.routed);
        expect(await num(p, 'st-errors')).toBe(stats.errors);
        expect(await num(p, 'st-fallbacks')).toBe(stats.cpuFallbackBatches);
        expect(await loadCounts(p)).toEqual(stats.perExpert);
        expect(await p.evaluate<string>("document.getElementById('st-state').getAttribute('data-state')")).toBe('finished');
      }
      expect(await textOf(page, '#st-backend')).toContain(stats.adapter);
      await expectInert(page, w, 2);
      const hovered = await hoverScatter(page);
      expect(hovered).not.toBeNull();
      expect(lines.some((l) => l === hovered || (hovered ?? '').endsWith('…'))).toBe(true);
      await page.mouse.move(0, 0);
      await page.screenshot({ path: artifactPath(`dashboard-live-${backend}.png`), fullPage: true });
      // the run is over; the page stays until Ctrl-C, which ends the process cleanly
      child.kill('SIGINT');
      expect(await exited).toBe(130);
    } finally {
      child.kill('SIGKILL');
      await page.close();
      await late?.close();
      t.cleanup();
    }
  }

  it('shows live counts during a slow piped run and the --stats figures at done (CPU)', async () => {
    await liveRun('cpu');
  });

  describeGpu('on the GPU backend (software adapter in CI)', () => {
    it('shows live counts during a slow piped run and the --stats figures at done (GPU)', async () => {
      await liveRun('gpu');
    });
  });

  it('catches up after the stream drops (EventSource reconnects by itself)', async () => {
    const d = new ComplexityDashboard();
    d.updateBatch({ experts: [0, 1, 2, 2], scoresQ16: [100, 20000, 30000, 60000] });
    const server = await startDashboardServer(d, { rate: 20 });
    const page = await browser.newPage();
    try {
      const w = await watch(page);
      await page.goto(server.url);
      await waitFor(page, "document.getElementById('st-records').getAttribute('data-value') === '4'");
      await page.evaluate(
        "window.__states = []; new MutationObserver(() => window.__states.push(document.getElementById('st-state').getAttribute('data-state'))).observe(document.getElementById('st-state'), { attributes: true })",
      );
      expect(server.clients).toBe(1);
      server.dropClients();
      expect(server.clients).toBe(0);
      d.updateBatch({ experts: [1, 1, 1], scoresQ16: [20000, 20001, 20002] });
      await waitFor(page, "document.getElementById('st-records').getAttribute('data-value') === '7'");
      expect(await loadCounts(page)).toEqual([1, 4, 2]);
      const states = await page.evaluate<string[]>('window.__states');
      expect(states).toContain('reconnecting');
      expect(states[states.length - 1]).toBe('live');
      expect(server.clients).toBe(1);
      d.finish();
      await page.waitForSelector('body[data-ready="1"]');
      expect(w.pageErrors).toEqual([]);
    } finally {
      await page.close();
      await server.close();
    }
  });

  it('opens the report from disk with no network: its numbers equal --stats, charts drawn, payloads inert', async () => {
    const t = tempDir();
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      writeFileSync(t.path('corpus.txt'), corpus(400, 3).join('\n') + '\n');
      const r = await runCli(['route', t.path('corpus.txt'), '--backend', 'cpu', '-q', '--out', '/dev/null', '--stats', t.path('stats.json'), '--report', t.path('report.html')]);
      expect(r.code, r.stderr).toBe(0);
      const stats = JSON.parse(readFileSync(t.path('stats.json'), 'utf8')) as RunStats;
      const blocked: string[] = [];
      await context.route('**/*', (route) => {
        const u = route.request().url();
        if (u.startsWith('file:')) return route.continue();
        blocked.push(u);
        return route.abort();
      });
      const page = await context.newPage();
      const w = await watch(page);
      await page.goto(pathToFileURL(t.path('report.html')).href);
      await page.waitForSelector('body[data-ready="1"]');
      expect(blocked).toEqual([]);
      // the panels and the plain-HTML summary both say what --stats says
      expect(await num(page, 'st-records')).toBe(stats.recordsOut);
      expect(await num(page, 'st-routed')).toBe(stats.routed);
      expect(await num(page, 'st-errors')).toBe(stats.errors);
      expect(await loadCounts(page)).toEqual(stats.perExpert);
      expect(await page.evaluate<number[]>("Array.from(document.querySelectorAll('#summary-experts tr[data-expert]')).map((e) => Number(e.getAttribute('data-count')))")).toEqual(stats.perExpert);
      expect(await textOf(page, '[data-key="routed"] td')).toBe(stats.routed.toLocaleString('en-US'));
      for (const id of ['load-chart', 'hist-chart', 'scatter-chart']) expect(await colouredPixels(page, id), id).toBeGreaterThan(200);
      await expectInert(page, w, 3);
      await page.screenshot({ path: artifactPath('report.png'), fullPage: true });

      // the sample table's filters: by expert, by low confidence, by a range dragged on the histogram
      const rows = (): Promise<string[][]> =>
        page.evaluate<string[][]>("Array.from(document.querySelectorAll('#sample-table tbody tr')).map((tr) => Array.from(tr.cells).map((c) => c.textContent))");
      const all = await rows();
      await page.selectOption('#f-expert', '2');
      const e2 = await rows();
      expect(e2.length).toBeGreaterThan(0);
      expect(e2.length).toBeLessThan(all.length);
      expect(e2.every((r) => r[2] === '2')).toBe(true);
      await page.selectOption('#f-expert', '');
      await page.check('#f-lowconf');
      const low = await rows();
      expect(low.length).toBeGreaterThan(0);
      expect(low.every((r) => Number(r[3]) < 0.1)).toBe(true);
      await page.uncheck('#f-lowconf');
      await page.locator('#hist-chart .u-over').scrollIntoViewIfNeeded();
      const over = await page.locator('#hist-chart .u-over').boundingBox();
      if (!over) throw new Error('no histogram');
      // drag across the middle fifth of the complexity axis, [0.4, 0.6]
      await page.mouse.move(over.x + over.width * 0.4, over.y + over.height / 2);
      await page.mouse.down();
      await page.mouse.move(over.x + over.width * 0.6, over.y + over.height / 2, { steps: 5 });
      await page.mouse.up();
      const ranged = await rows();
      expect(await textOf(page, '#f-range')).toMatch(/^complexity in \[0\.(39|40)\d, 0\.(59|60)\d\]$/);
      expect(ranged.length).toBeGreaterThan(0);
      expect(ranged.length).toBeLessThan(all.length);
      expect(ranged.every((r) => Number(r[1]) >= 0.39 && Number(r[1]) <= 0.61)).toBe(true);
      await page.click('#f-clear');
      expect((await rows()).length).toBe(all.length);

      // readable without JavaScript: the summary is plain HTML
      const noJs = await browser.newContext({ javaScriptEnabled: false });
      const p2 = await noJs.newPage();
      await p2.goto(pathToFileURL(t.path('report.html')).href);
      expect(await p2.locator('[data-key="routed"] td').textContent()).toBe(stats.routed.toLocaleString('en-US'));
      expect(await p2.locator('#summary-experts tr[data-expert="2"] .count').textContent()).toBe(stats.perExpert[2].toLocaleString('en-US'));
      expect(await p2.locator('img').count()).toBe(0);
      await noJs.close();
    } finally {
      await context.close();
      t.cleanup();
    }
  });
});
