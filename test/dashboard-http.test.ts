/**
 * The dashboard server, by raw HTTP requests (no browser): a fixed table of
 * assets under a token, traversal and unknown paths 404, GET/HEAD only, Host
 * checked, security headers, SSE with full snapshots and a `done` event, and
 * many viewers coming and going without leaking.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ComplexityDashboard } from '../src/dashboard/complexity-dashboard.js';
import { packStrings } from '../src/model/packed-batch.js';
import { startDashboardServer, type DashboardServer } from '../src/dashboard/server.js';
import type { DashboardSnapshot } from '../src/dashboard/snapshot.js';
import type { RunStats } from '../src/job/run-stats.js';
import { CLI, ROOT, runCli, tempDir } from './helpers/cli.js';

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Sends bytes as they are (no URL normalisation, any Host) and reads the answer until the server closes. */
function raw(port: number, request: string, untilBody?: RegExp): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let data = '';
    const finish = (): void => {
      const [head, ...rest] = data.split('\r\n\r\n');
      const lines = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
      }
      resolve({ status: Number(lines[0].split(' ')[1]), headers, body: rest.join('\r\n\r\n') });
    };
    s.on('data', (b) => {
      data += b.toString('utf8');
      if (untilBody && untilBody.test(data)) {
        s.destroy();
        finish();
      }
    });
    s.on('end', finish);
    s.on('error', reject);
    s.write(request);
  });
}

const get = (port: number, path: string, extra = '', method = 'GET', host = `127.0.0.1:${port}`): Promise<RawResponse> =>
  raw(port, `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n${extra}\r\n`);

describe('dashboard server (raw HTTP)', () => {
  let dashboard: ComplexityDashboard;
  let server: DashboardServer;
  let port: number;
  let prefix: string;

  beforeAll(async () => {
    dashboard = new ComplexityDashboard();
    dashboard.updateBatch({ experts: [0, 1, 2, 2], scoresQ16: [100, 20000, 30000, 60000] });
    server = await startDashboardServer(dashboard, { token: 'tok123', keepAliveMs: 200 });
    port = server.port;
    prefix = '/tok123/';
    expect(server.url).toBe(`http://127.0.0.1:${port}/tok123/`);
  });
  afterAll(async () => {
    await server.close();
  });

  it('serves the page and its assets with the security headers and no CORS', async () => {
    for (const [path, type] of [
      ['', 'text/html'],
      ['app.js', 'text/javascript'],
      ['style.css', 'text/css'],
      ['vendor/uPlot.iife.min.js', 'text/javascript'],
      ['vendor/uPlot.min.css', 'text/css'],
      ['snapshot.json', 'application/json'],
    ]) {
      const r = await get(port, prefix + path, 'Origin: http://evil.example\r\n');
      expect(r.status, path).toBe(200);
      expect(r.headers['content-type']).toContain(type);
      expect(r.headers['content-security-policy']).toContain("default-src 'none'");
      expect(r.headers['content-security-policy']).toContain("script-src 'self'");
      expect(r.headers['x-content-type-options']).toBe('nosniff');
      expect(r.headers['referrer-policy']).toBe('no-referrer');
      expect(Object.keys(r.headers).filter((h) => h.startsWith('access-control-'))).toEqual([]);
    }
    const page = await get(port, prefix);
    expect(page.body).toContain('<script src="vendor/uPlot.iife.min.js"></script>');
    const snap = JSON.parse((await get(port, prefix + 'snapshot.json')).body) as { perExpert: number[] };
    expect(snap.perExpert).toEqual([1, 1, 2]);
  });

  it('answers 404 to traversal, unknown paths and paths without the token', async () => {
    for (const path of [
      '/',
      '/app.js',
      `${prefix}../package.json`,
      `${prefix}..%2f..%2fpackage.json`,
      `${prefix}%2e%2e/%2e%2e/package.json`,
      '/tok123/%2e%2e/tok123/app.js',
      '//etc/passwd',
      '/../../../../etc/passwd',
      `${prefix}vendor/../app.js`,
      `${prefix}APP.JS`,
      `${prefix}app.js/`,
      '/tok124/',
      `${prefix}dashboard/page/app.js`,
      '/etc/passwd',
      '*',
    ]) {
      const r = await get(port, path);
      expect(r.status, path).toBe(404);
      expect(r.body).not.toContain('root:');
      expect(r.headers['x-content-type-options']).toBe('nosniff');
    }
    // the query string is ignored, never used as a path
    expect((await get(port, `${prefix}app.js?file=../../package.json`)).status).toBe(200);
  });

  it('answers only GET and HEAD', async () => {
    const head = await get(port, prefix, '', 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    for (const m of ['POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'CONNECT']) {
      const r = await raw(port, `${m} ${m === 'CONNECT' ? `127.0.0.1:${port}` : prefix} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
      expect(r.status, m).toBe(405);
      expect(r.headers.allow).toBe('GET, HEAD');
    }
  });

  it('refuses a foreign Host header (DNS rebinding)', async () => {
    expect((await get(port, prefix, '', 'GET', `localhost:${port}`)).status).toBe(200);
    for (const host of ['evil.example', `evil.example:${port}`, '127.0.0.1', `127.0.0.1:${port + 1}`, `localhost.evil.example:${port}`, '']) {
      expect((await get(port, prefix, '', 'GET', host)).status, host).toBe(403);
    }
    const noHost = await raw(port, `GET ${prefix} HTTP/1.0\r\n\r\n`);
    expect(noHost.status).toBe(403);
  });

  it('streams full snapshots as Server-Sent Events, keep-alives, and a done event', async () => {
    const first = await raw(port, `GET ${prefix}events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\n\r\n`, /: keep-alive/);
    expect(first.headers['content-type']).toContain('text/event-stream');
    expect(first.body).toContain('retry: 500');
    const data = /data: (.*)\n/.exec(first.body)?.[1] ?? '';
    expect((JSON.parse(data) as { perExpert: number[] }).perExpert).toEqual([1, 1, 2]);

    const stream = raw(port, `GET ${prefix}events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`);
    await new Promise((r) => setTimeout(r, 100));
    dashboard.updateBatch({ experts: [1], scoresQ16: [20000] });
    await new Promise((r) => setTimeout(r, 400));
    dashboard.finish();
    const r = await stream; // the server ends the stream after `done`
    const events = r.body.split('\n\n').filter((e) => e.includes('data: '));
    const last = events[events.length - 1];
    expect(last).toContain('event: done');
    expect((JSON.parse(/data: (.*)/.exec(last)?.[1] ?? '') as { perExpert: number[]; state: string }).perExpert).toEqual([1, 2, 2]);
    // a late viewer gets the final snapshot and done at once
    const late = await raw(port, `GET ${prefix}events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`);
    expect(late.body).toContain('event: done');
  });

  it('skips frames for a slow viewer, then ends it with the final snapshot', async () => {
    const d = new ComplexityDashboard();
    const s = await startDashboardServer(d, { token: 't', rate: 50 });
    const n = 2000;
    const texts = packStrings(Array.from({ length: n }, (_, i) => `${i} ${'x'.repeat(110)}`));
    const experts = new Uint32Array(n).map((_, i) => i % 3);
    const scoresQ16 = new Uint32Array(n).map((_, i) => [1000, 20000, 40000][i % 3] + i);
    const request = `GET /t/events HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\nConnection: close\r\n\r\n`;
    const fast = raw(s.port, request);
    const slow = connect(s.port, '127.0.0.1');
    slow.on('error', () => undefined);
    slow.pause(); // reads nothing: the kernel's buffers fill, then the server's
    slow.write(request);
    let slowData = '';
    const slowEnd = new Promise((r) => slow.on('end', r));
    for (let k = 0; k < 80; k++) {
      d.updateBatch({ experts, scoresQ16, text: texts });
      await new Promise((r) => setTimeout(r, 25));
    }
    d.finish();
    const f = await fast;
    slow.on('data', (b: Buffer) => (slowData += b.toString('utf8')));
    slow.resume();
    await slowEnd;
    const frames = (body: string): string[] => body.split('\n').filter((l) => l.startsWith('data: '));
    const fastFrames = frames(f.body);
    const slowFrames = frames(slowData);
    // each frame is about 150 KB: the slow viewer got far fewer, not a growing queue
    expect(fastFrames.length).toBeGreaterThan(20);
    expect(slowFrames.length).toBeLessThan(fastFrames.length / 2);
    // and it still ends complete: its last frame is the final snapshot, sent as `done`
    expect(slowData).toContain('event: done');
    const last = JSON.parse(slowFrames[slowFrames.length - 1].slice(6)) as DashboardSnapshot;
    expect(last.state).toBe('done');
    expect(last.totals.routed).toBe(80 * n);
    await s.close();
  });

  it('lets many viewers come and go without keeping them', async () => {
    const d = new ComplexityDashboard();
    const s = await startDashboardServer(d, { token: 't', rate: 50 });
    const sockets = Array.from({ length: 40 }, () => {
      const c = connect(s.port, '127.0.0.1');
      c.on('error', () => undefined);
      c.write(`GET /t/events HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\n\r\n`);
      return c;
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(s.clients).toBe(40);
    for (let i = 0; i < 20; i++) d.updateBatch({ experts: [0, 1], scoresQ16: [10, 20000] });
    for (const c of sockets) c.destroy();
    await new Promise((r) => setTimeout(r, 300));
    expect(s.clients).toBe(0);
    await s.close();
  });
});

describe('moe-router dashboard (the command)', () => {
  it('prints its URL on stderr, serves 127.0.0.1 only, and ends cleanly on SIGTERM', async () => {
    const t = tempDir();
    try {
      const stats = t.path('stats.json');
      const run = spawn(process.execPath, [CLI, 'route', 'examples/corpus.txt', '--backend', 'cpu', '-q', '--out', '/dev/null', '--stats', stats], { cwd: ROOT });
      await new Promise((r) => run.on('close', r));
      const child = spawn(process.execPath, [CLI, 'dashboard', stats], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      const url = await new Promise<string>((resolve) => {
        child.stderr.on('data', (b: Buffer) => {
          err += b.toString();
          const m = /http:\/\/127\.0\.0\.1:(\d+)\/\S+\//.exec(err);
          if (m) resolve(m[0]);
        });
      });
      const port = Number(new URL(url).port);
      const snap = await get(port, `${new URL(url).pathname}snapshot.json`);
      expect((JSON.parse(snap.body) as { perExpert: number[] }).perExpert).toEqual([9, 14, 37]);
      child.kill('SIGTERM');
      const code = await new Promise((r) => child.on('close', (c) => r(c)));
      expect(code).toBe(143);
      expect(err).not.toMatch(/at .*\.js:\d+/);
    } finally {
      t.cleanup();
    }
  });
});

describe('route --dashboard / --report / --snapshot, and report (the commands)', () => {
  it('exits by itself with --dashboard-exit, after printing the URL', async () => {
    const r = await runCli(['route', 'examples/corpus.txt', '--backend', 'cpu', '-q', '--out', '/dev/null', '--dashboard', '--dashboard-exit']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^moe-router: dashboard at http:\/\/127\.0\.0\.1:\d+\/[0-9a-f]{24}\/ \(the process exits when the run ends\)$/m);
  });

  it('warns when --host binds beyond this machine', async () => {
    const r = await runCli(['route', 'examples/corpus.txt', '--backend', 'cpu', '-q', '--out', '/dev/null', '--dashboard', '--dashboard-exit', '--host', '0.0.0.0']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^moe-router: warning: the dashboard listens on 0\.0\.0\.0, not only on this machine/m);
    expect(r.stderr).toMatch(/dashboard at http:\/\/127\.0\.0\.1:\d+\//);
  });

  it('refuses a report or snapshot that is the input, and --host without --dashboard', async () => {
    const t = tempDir();
    try {
      writeFileSync(t.path('in.txt'), 'a\nb\n');
      const r = await runCli(['route', t.path('in.txt'), '--backend', 'cpu', '-q', '--out', '/dev/null', '--report', t.path('in.txt')]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('must not overwrite its input');
      expect(readFileSync(t.path('in.txt'), 'utf8')).toBe('a\nb\n');
      const s = await runCli(['route', t.path('in.txt'), '--backend', 'cpu', '-q', '--out', '/dev/null', '--snapshot', t.path('x.json'), '--report', t.path('x.json')]);
      expect(s.code).toBe(2);
      const h = await runCli(['route', t.path('in.txt'), '--backend', 'cpu', '-q', '--out', '/dev/null', '--host', '0.0.0.0']);
      expect(h.code).toBe(2);
      expect(h.stderr).toContain('--host and --dashboard-exit go with --dashboard');
    } finally {
      t.cleanup();
    }
  });

  it('merges the snapshots of a --shard run into the figures of the whole run', async () => {
    const t = tempDir();
    try {
      const base = ['examples/corpus.txt', '--backend', 'cpu', '-q', '--out', '/dev/null'];
      expect((await runCli(['route', ...base, '--snapshot', t.path('whole.json'), '--stats', t.path('whole-stats.json')])).code).toBe(0);
      for (const i of [0, 1, 2]) expect((await runCli(['route', ...base, '--shard', `${i}/3`, '--snapshot', t.path(`part-${i}.json`)])).code).toBe(0);
      const r = await runCli(['report', t.path('part-0.json'), t.path('part-1.json'), t.path('part-2.json'), '--out', t.path('report.html')]);
      expect(r.code, r.stderr).toBe(0);
      const html = readFileSync(t.path('report.html'), 'utf8');
      const data = /<script type="application\/json" id="moe-data">(.*?)<\/script>/s.exec(html)?.[1] ?? '';
      const merged = JSON.parse(data) as DashboardSnapshot;
      const whole = JSON.parse(readFileSync(t.path('whole.json'), 'utf8')) as DashboardSnapshot;
      const stats = JSON.parse(readFileSync(t.path('whole-stats.json'), 'utf8')) as RunStats;
      expect(merged.perExpert).toEqual(stats.perExpert);
      expect(whole.perExpert).toEqual(stats.perExpert);
      expect(merged.histogram.counts).toEqual(whole.histogram.counts);
      // the invariant: histogram total = sum per expert = routed = --stats
      expect(whole.histogram.counts.reduce((x, y) => x + y, 0)).toBe(stats.routed);
      expect(merged.histogram.counts.reduce((x, y) => x + y, 0)).toBe(stats.routed);
      expect(merged.totals.recordsOut).toBe(stats.recordsOut);
      expect(merged.run.parts).toBe(3);
      expect(merged.sample.records.map((x) => x.index)).toEqual(whole.sample.records.map((x) => x.index));
      expect(merged.stats?.perExpert).toEqual(stats.perExpert);
      // a --stats file counts too (by expert only)
      const s = await runCli(['report', t.path('whole-stats.json'), '--out', t.path('from-stats.html'), '-q']);
      expect(s.code, s.stderr).toBe(0);
      expect(readFileSync(t.path('from-stats.html'), 'utf8')).toContain(`data-count="${stats.perExpert[2]}"`);
    } finally {
      t.cleanup();
    }
  });

  it("runs the README's notebook loop (examples/dashboard-notebook.mjs) to the figures of route", async () => {
    const t = tempDir();
    try {
      const r = await runCli(['route', 'examples/corpus.txt', '--backend', 'cpu', '-q', '--out', '/dev/null', '--snapshot', t.path('route.json')]);
      expect(r.code, r.stderr).toBe(0);
      const nb = spawn(process.execPath, ['examples/dashboard-notebook.mjs', t.path('nb.html')], { cwd: ROOT, stdio: 'ignore' });
      expect(await new Promise((res) => nb.on('close', res))).toBe(0);
      const html = readFileSync(t.path('nb.html'), 'utf8');
      const fromLoop = JSON.parse(/<script type="application\/json" id="moe-data">(.*?)<\/script>/s.exec(html)?.[1] ?? '') as DashboardSnapshot;
      const fromRoute = JSON.parse(readFileSync(t.path('route.json'), 'utf8')) as DashboardSnapshot;
      expect(fromLoop.perExpert).toEqual([9, 14, 37]);
      expect(fromLoop.perExpert).toEqual(fromRoute.perExpert);
      expect(fromLoop.histogram.counts).toEqual(fromRoute.histogram.counts);
      expect(fromLoop.sample.records.map((x) => [x.index, x.scoreQ16, x.expert, x.confidenceQ16, x.text])).toEqual(
        fromRoute.sample.records.map((x) => [x.index, x.scoreQ16, x.expert, x.confidenceQ16, x.text]),
      );
      expect(fromLoop.latency.count).toBe(60);
    } finally {
      t.cleanup();
    }
  });
});
