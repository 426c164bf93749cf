/**
 * The live page's HTTP server. It answers from a fixed, in-memory table of
 * assets under a random token (as Jupyter does): no path is ever taken from the
 * request. It binds 127.0.0.1 unless told otherwise, refuses foreign Host
 * headers (DNS rebinding), answers only GET and HEAD, and streams snapshots as
 * Server-Sent Events, about 4 a second, skipping frames for a slow client.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { fillTemplate, pageAssets } from './assets.js';
import type { ComplexityDashboard } from './complexity-dashboard.js';

export interface DashboardServerOptions {
  /** 0 (default): any free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** URL token; default 24 random hex characters. */
  token?: string;
  /** Snapshot events per second at most. Default 4. */
  rate?: number;
  /** Keep-alive comment interval. Default 15 s. */
  keepAliveMs?: number;
  /** Most simultaneous event streams; more get 503. Default 64. */
  maxClients?: number;
}

export interface DashboardServer {
  /** The page's URL, token included. */
  readonly url: string;
  readonly port: number;
  /** Event streams open now. */
  readonly clients: number;
  /** Ends every open event stream (the browsers reconnect by themselves). */
  dropClients(): void;
  close(): Promise<void>;
}

const PAGE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const COMMON_HEADERS: Record<string, string> = {
  'Content-Security-Policy': PAGE_CSP,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/** A served icon, so that the browser does not ask for /favicon.ico (a 404 in its console). */
const FAVICON = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#3367d6"/></svg>';

interface Asset {
  type: string;
  body: Buffer;
}

function assetTable(prefix: string): Map<string, Asset> {
  const a = pageAssets();
  const html = fillTemplate(a.template, {
    head: '<link rel="icon" href="favicon.svg"><link rel="stylesheet" href="vendor/uPlot.min.css"><link rel="stylesheet" href="style.css">',
    summary: '',
    data: '',
    scripts: '<script src="vendor/uPlot.iife.min.js"></script><script src="app.js"></script>',
  });
  const table = new Map<string, Asset>();
  const put = (name: string, type: string, body: string): void => void table.set(prefix + name, { type, body: Buffer.from(body, 'utf8') });
  put('', 'text/html; charset=utf-8', html);
  put('app.js', 'text/javascript; charset=utf-8', a.appJs);
  put('style.css', 'text/css; charset=utf-8', a.styleCss);
  put('favicon.svg', 'image/svg+xml', FAVICON);
  put('vendor/uPlot.iife.min.js', 'text/javascript; charset=utf-8', a.uplotJs);
  put('vendor/uPlot.min.css', 'text/css; charset=utf-8', a.uplotCss);
  return table;
}

interface Client {
  res: ServerResponse;
  sentSeq: number;
}

export async function startDashboardServer(dashboard: ComplexityDashboard, options: DashboardServerOptions = {}): Promise<DashboardServer> {
  const host = options.host ?? '127.0.0.1';
  const token = options.token ?? randomBytes(12).toString('hex');
  const prefix = `/${token}/`;
  const assets = assetTable(prefix);
  const eventsPath = `${prefix}events`;
  const snapshotPath = `${prefix}snapshot.json`;
  const clients = new Set<Client>();
  const sockets = new Set<Socket>();
  const maxClients = options.maxClients ?? 64;
  let allowedHosts = new Set<string>();
  let frame: { seq: number; data: string } | null = null;

  /** One JSON string per sequence number, shared by every client. */
  const currentFrame = (): { seq: number; data: string } => {
    if (!frame || frame.seq !== dashboard.sequence) frame = { seq: dashboard.sequence, data: JSON.stringify(dashboard.snapshot()) };
    return frame;
  };

  const send = (c: Client, done: boolean): void => {
    const f = currentFrame();
    c.sentSeq = f.seq;
    c.res.write(`${done ? 'event: done\n' : ''}id: ${f.seq}\ndata: ${f.data}\n\n`);
    if (done) {
      c.res.end();
      clients.delete(c);
    }
  };

  const refuse = (res: ServerResponse, status: number, message: string, extra: Record<string, string> = {}): void => {
    res.writeHead(status, { ...COMMON_HEADERS, 'Content-Type': 'text/plain; charset=utf-8', ...extra });
    res.end(`${message}\n`);
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    res.on('error', () => undefined);
    if (!allowedHosts.has((req.headers.host ?? '').toLowerCase())) return refuse(res, 403, 'forbidden host');
    if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(res, 405, 'method not allowed', { Allow: 'GET, HEAD' });
    const raw = req.url ?? '';
    const q = raw.indexOf('?');
    const path = q >= 0 ? raw.slice(0, q) : raw;
    if (path === eventsPath) {
      if (clients.size >= maxClients) return refuse(res, 503, 'too many viewers');
      res.writeHead(200, { ...COMMON_HEADERS, 'Content-Type': 'text/event-stream; charset=utf-8' });
      if (req.method === 'HEAD') return void res.end();
      res.write('retry: 500\n\n');
      const c: Client = { res, sentSeq: -1 };
      clients.add(c);
      res.on('close', () => clients.delete(c));
      send(c, dashboard.currentState === 'done');
      return;
    }
    if (path === snapshotPath) {
      const body = Buffer.from(currentFrame().data, 'utf8');
      res.writeHead(200, { ...COMMON_HEADERS, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(body.length) });
      return void res.end(req.method === 'HEAD' ? undefined : body);
    }
    const asset = assets.get(path);
    if (!asset) return refuse(res, 404, 'not found');
    res.writeHead(200, { ...COMMON_HEADERS, 'Content-Type': asset.type, 'Content-Length': String(asset.body.length) });
    res.end(req.method === 'HEAD' ? undefined : asset.body);
  };

  const server: Server = createServer(handle);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('clientError', (_err, socket: Socket) => socket.destroy());
  // CONNECT (a proxy request) is not a GET either
  server.on('connect', (_req: IncomingMessage, socket: Socket) => {
    socket.on('error', () => undefined);
    socket.end('HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  });

  const tickMs = Math.round(1000 / (options.rate ?? 4));
  let finished = false;
  const tick = setInterval(() => {
    const done = dashboard.currentState === 'done';
    for (const c of [...clients]) {
      if (done) send(c, true);
      // a client still draining the last frame skips this one: it gets the newest when it catches up
      else if (c.sentSeq !== dashboard.sequence && !c.res.writableNeedDrain) send(c, false);
    }
    finished = done;
  }, tickMs);
  tick.unref();
  const keepAlive = setInterval(() => {
    for (const c of clients) if (!c.res.writableNeedDrain) c.res.write(': keep-alive\n\n');
  }, options.keepAliveMs ?? 15_000);
  keepAlive.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  allowedHosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`, `${host.includes(':') ? `[${host}]` : host}:${port}`.toLowerCase()]);
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;

  return {
    url: `http://${shownHost}:${port}${prefix}`,
    port,
    get clients() {
      return clients.size;
    },
    dropClients() {
      for (const c of [...clients]) {
        clients.delete(c);
        c.res.destroy();
      }
    },
    async close() {
      clearInterval(tick);
      clearInterval(keepAlive);
      if (!finished && dashboard.currentState === 'done') for (const c of [...clients]) send(c, true);
      for (const c of clients) c.res.end();
      clients.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.end();
        setTimeout(() => {
          for (const s of sockets) s.destroy();
        }, 200).unref();
      });
    },
  };
}
