/**
 * `route --dashboard [PORT] | --report FILE | --snapshot FILE`: a route job
 * listener that feeds a ComplexityDashboard, serves it live and writes the
 * report and the snapshot when the run ends. runRoute only calls
 * onStart/onBatch/onEnd and finish()/close().
 */
import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { ComplexityDashboard } from '../dashboard/complexity-dashboard.js';
import { renderReport } from '../dashboard/report.js';
import { startDashboardServer, type DashboardServer } from '../dashboard/server.js';
import type { RecordBatch } from '../sources/record-reader.js';
import type { BatchRouting } from '../router/switched-moe.js';
import { NO_EXPERT, type BatchEvent, type JobStartEvent, type RouteJobListener } from '../job/events.js';
import type { RunStats } from '../job/run-stats.js';
import { AtomicFile } from '../sinks/atomic-file.js';
import { CliError, ioError, warn } from './cli-errors.js';

export interface DashboardCliOptions {
  /** true: any free port. */
  dashboard?: number | true;
  host?: string;
  dashboardExit?: boolean;
  report?: string;
  snapshot?: string;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

/** Same file? Compares real paths where the files exist (symlinks), else absolute paths. */
export function samePath(a: string, b: string): boolean {
  const real = (p: string): string => {
    try {
      return realpathSync(p);
    } catch {
      return resolve(p);
    }
  };
  return resolve(a) === resolve(b) || real(a) === real(b);
}

/** Refuses an output path that is an input or another output: writing it would destroy that file. */
export function checkOutputPath(option: string, path: string, others: readonly { what: string; path: string | undefined }[]): void {
  for (const o of others) {
    if (o.path !== undefined && o.path !== '-' && samePath(path, o.path)) throw new CliError(`${option} ${path} is the same file as the ${o.what}: it would be overwritten; choose another name`);
  }
}

/** Starts the server and prints its URL, one line on stderr. */
export async function serveDashboard(dashboard: ComplexityDashboard, port: number, host: string | undefined, keepNote: string): Promise<DashboardServer> {
  const h = host ?? '127.0.0.1';
  if (!LOOPBACK.has(h)) warn(`the dashboard listens on ${h}, not only on this machine: anyone who can reach it and has the URL (with its token) sees the data`);
  let server: DashboardServer;
  try {
    server = await startDashboardServer(dashboard, { port, host: h });
  } catch (err) {
    throw ioError('serve the dashboard on', `${h}:${port}`, err);
  }
  process.stderr.write(`moe-router: dashboard at ${server.url} (${keepNote})\n`);
  return server;
}

export async function writeReportFile(path: string, html: string, option = '--report'): Promise<void> {
  try {
    const f = await AtomicFile.open(path);
    await f.write(html);
    await f.commit();
  } catch (err) {
    throw ioError(`write ${option}`, path, err);
  }
}

export class RouteMonitor implements RouteJobListener {
  readonly dashboard = new ComplexityDashboard();
  private seq = 0;
  private stats: RunStats | null = null;
  private finished = false;

  private constructor(
    private readonly o: DashboardCliOptions,
    private server: DashboardServer | null,
  ) {}

  /** null when no dashboard option is given. Checks the output paths and starts the server before the run. */
  static async open(o: DashboardCliOptions, paths: { input: string | undefined; out?: string; stats?: string }): Promise<RouteMonitor | null> {
    if (o.dashboard === undefined && o.report === undefined && o.snapshot === undefined) {
      if (o.host !== undefined || o.dashboardExit) throw new CliError('--host and --dashboard-exit go with --dashboard');
      return null;
    }
    const others = [
      { what: 'input', path: paths.input },
      { what: '--out file', path: paths.out },
      { what: '--stats file', path: paths.stats },
    ];
    if (o.report !== undefined) checkOutputPath('--report', o.report, others);
    if (o.snapshot !== undefined) checkOutputPath('--snapshot', o.snapshot, [...others, { what: '--report file', path: o.report }]);
    const m = new RouteMonitor(o, null);
    if (o.dashboard !== undefined) {
      const note = o.dashboardExit ? 'the process exits when the run ends' : 'kept open after the run until Ctrl-C; --dashboard-exit exits at once';
      m.server = await serveDashboard(m.dashboard, o.dashboard === true ? 0 : o.dashboard, o.host, note);
    }
    return m;
  }

  onStart(event: JobStartEvent): void {
    this.dashboard.onStart(event);
  }

  onBatch(event: BatchEvent): void {
    this.dashboard.onBatch(event);
  }

  onEnd(stats: RunStats): void {
    this.stats = stats;
    this.dashboard.onEnd(stats);
  }

  /**
   * The BatchEvent of one written batch, from what runRoute has in hand
   * (records [0, upTo) of the batch were written; the route job will emit these itself).
   */
  batchEvent(batch: RecordBatch, routing: BatchRouting | null, upTo: number, fallback: boolean, writeMs: number, totals: BatchEvent['totals']): BatchEvent {
    const experts = new Uint32Array(upTo);
    const scores = new Uint32Array(upTo);
    const conf = new Uint32Array(upTo);
    if (routing) {
      experts.set(routing.experts.subarray(0, upTo));
      scores.set(routing.scoresQ16.subarray(0, upTo));
      conf.set(routing.confidenceQ16.subarray(0, upTo));
    }
    let errors = 0;
    for (const e of batch.errors) {
      if (e.local < upTo) {
        experts[e.local] = NO_EXPERT;
        errors++;
      }
    }
    if (!routing) experts.fill(NO_EXPERT);
    const perExpert = new Array<number>(this.dashboard.expertCount).fill(0);
    for (let i = 0; i < upTo; i++) if (experts[i] !== NO_EXPERT) perExpert[experts[i]]++;
    return {
      seq: this.seq++,
      firstIndex: batch.firstIndex,
      records: upTo,
      errors,
      inputBytes: batch.inputBytes,
      experts,
      scoresQ16: scores,
      confidenceQ16: conf,
      text: batch.text,
      perExpert,
      backend: routing?.backend ?? '',
      adapter: routing?.adapter ?? '',
      fallback,
      timings: { routeMs: routing?.timings.totalMs ?? 0, writeMs },
      totals,
    };
  }

  /** After onEnd: writes the report and the snapshot; with --dashboard-exit, sends `done` and closes the server. */
  async finish(): Promise<void> {
    this.finished = true;
    const snap = this.dashboard.snapshot();
    if (this.o.report !== undefined) await writeReportFile(this.o.report, renderReport(snap));
    if (this.o.snapshot !== undefined) await writeReportFile(this.o.snapshot, JSON.stringify(snap) + '\n', '--snapshot');
    if (this.server) {
      if (this.o.dashboardExit) await this.close();
      else process.stderr.write(`moe-router: run ${this.stats?.complete === false ? 'stopped' : 'finished'}; the dashboard stays at ${this.server.url} until Ctrl-C\n`);
    }
  }

  /** A run that failed before finish(): closes the server so that the process can exit. */
  async abort(): Promise<void> {
    if (!this.finished) await this.close();
  }

  /** Closes the server (a failed run, or --dashboard-exit). */
  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s) await s.close();
  }
}
