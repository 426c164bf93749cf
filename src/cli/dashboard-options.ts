/**
 * The dashboard options of `route` (--dashboard, --report, --snapshot), apart from the monitor
 * itself: a run without them never loads the dashboard's modules (dashboard-monitor.ts is
 * imported only when one is given).
 */
import { CliError } from './cli-errors.js';

export interface DashboardCliOptions {
  /** true: any free port. */
  dashboard?: number | true;
  host?: string;
  dashboardExit?: boolean;
  report?: string;
  snapshot?: string;
}

/** The run's files that the dashboard writes, for runRoute's OutputSet (in this order). */
export function dashboardOutputs(o: DashboardCliOptions): { label: string; path: string }[] {
  const out: { label: string; path: string }[] = [];
  if (o.report !== undefined) out.push({ label: 'report', path: o.report });
  if (o.snapshot !== undefined) out.push({ label: 'snapshot', path: o.snapshot });
  return out;
}

/** Whether the run has a dashboard to feed; the options that only go with --dashboard are refused without it. */
export function wantsMonitor(o: DashboardCliOptions): boolean {
  if (o.dashboard !== undefined || o.report !== undefined || o.snapshot !== undefined) return true;
  if (o.host !== undefined || o.dashboardExit) throw new CliError('--host and --dashboard-exit go with --dashboard');
  return false;
}
