/** `moe-router dashboard FILE...`: serves the page of finished runs (--snapshot or --stats files; shards are merged) until Ctrl-C. */
import { loadRuns } from './report-command.js';
import { serveDashboard } from './dashboard-monitor.js';

export interface DashboardCommandOptions {
  port: number;
  host?: string;
}

export async function runDashboard(files: string[], o: DashboardCommandOptions): Promise<number> {
  const dashboard = await loadRuns(files);
  // the server keeps the process alive; Ctrl-C (SIGINT) or SIGTERM ends it
  await serveDashboard(dashboard, o.port, o.host, `${dashboard.snapshot().run.parts} run(s); Ctrl-C to stop`);
  return 0;
}
