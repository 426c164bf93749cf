/**
 * `route --dashboard [PORT] | --report FILE | --snapshot FILE`: a listener of
 * the route job that feeds a ComplexityDashboard and serves it live. The report
 * and the snapshot are outputs of the run like --stats: runRoute opens them in
 * its OutputSet (checked against the input, written atomically, committed with
 * the others), and writeFiles() fills them once the job has ended.
 */
import { ComplexityDashboard } from '../dashboard/complexity-dashboard.js';
import { renderReport } from '../dashboard/report.js';
import { startDashboardServer, type DashboardServer } from '../dashboard/server.js';
import type { ByteWriter } from '../sinks/byte-writer.js';
import type { BatchEvent, JobStartEvent, RouteJobListener } from '../job/events.js';
import type { RunStats } from '../job/run-stats.js';
import { ioError, warn } from './cli-errors.js';
import type { DashboardCliOptions } from './dashboard-options.js';


const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

/** Starts the server and prints its URL, one line on stderr. */
export async function serveDashboard(dashboard: ComplexityDashboard, port: number, host: string | undefined, keepNote: string): Promise<DashboardServer> {
  const h = host ?? '127.0.0.1';
  if (!LOOPBACK.has(h) && !h.startsWith('127.')) warn(`the dashboard listens on ${h}, not only on this machine: anyone who can reach it and has the URL (with its token) sees the data`);
  let server: DashboardServer;
  try {
    server = await startDashboardServer(dashboard, { port, host: h });
  } catch (err) {
    throw ioError('serve the dashboard on', `${h}:${port}`, err);
  }
  process.stderr.write(`moe-router: dashboard at ${server.url} (${keepNote})\n`);
  return server;
}


export class RouteMonitor implements RouteJobListener {
  readonly dashboard = new ComplexityDashboard();
  private stats: RunStats | null = null;
  private finished = false;

  private constructor(
    private readonly o: DashboardCliOptions,
    private server: DashboardServer | null,
    /** The --report and --snapshot files, in dashboardOutputs' order. */
    private readonly files: readonly ByteWriter[],
  ) {}

  /** For a run with a dashboard option (wantsMonitor): starts the server (when asked) before the run. */
  static async open(o: DashboardCliOptions, files: readonly ByteWriter[]): Promise<RouteMonitor> {
    const m = new RouteMonitor(o, null, files);
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

  /** After the job: writes the report and the snapshot into their (not yet committed) files. */
  async writeFiles(): Promise<void> {
    const snap = this.dashboard.snapshot();
    let k = 0;
    if (this.o.report !== undefined) await this.files[k++].write(renderReport(snap));
    if (this.o.snapshot !== undefined) await this.files[k++].write(JSON.stringify(snap) + '\n');
  }

  /** After the run: with --dashboard-exit, sends `done` and closes the server; else says that it stays. */
  async finish(): Promise<void> {
    this.finished = true;
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
