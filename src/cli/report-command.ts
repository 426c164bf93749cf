/** `moe-router report FILE... --out report.html`: the offline report of finished runs (--snapshot or --stats files; shards are merged). */
import { ComplexityDashboard } from '../dashboard/complexity-dashboard.js';
import { renderReport } from '../dashboard/report.js';
import { classifySummary } from '../dashboard/snapshot.js';
import { STATS_VERSION, checkMergeable, type RunStats } from '../job/run-stats.js';
import { CliError, ioMessage, warn } from './cli-errors.js';
import { readJsonFile } from './input.js';
import { OutputPathError, OutputSet, inputIdentity, type InputIdentity } from '../sinks/output-set.js';

export interface ReportOptions {
  out: string;
  quiet?: boolean;
}

/** Reads route --snapshot and --stats files and merges them into one finished dashboard. */
export async function loadRuns(files: readonly string[]): Promise<ComplexityDashboard> {
  const dashboard = ComplexityDashboard.forMerging();
  const stats: { file: string; stats: RunStats }[] = [];
  for (const f of files) {
    const s = classifySummary(await readJsonFile(f, 'run'));
    if (!s) throw new CliError(`${f}: neither a route --snapshot file nor a --stats file (version ${STATS_VERSION})`);
    const st = s.kind === 'stats' ? s.stats : s.snapshot.stats;
    if (st) stats.push({ file: f, stats: st });
    try {
      dashboard.merge(s.kind === 'stats' ? s.stats : s.snapshot);
    } catch (err) {
      throw new CliError(`${f}: ${(err as Error).message}`);
    }
  }
  if (stats.length === files.length && files.length > 1) {
    const problems = checkMergeable(stats);
    if (problems.length > 0) warn(`the runs do not cover one file exactly: ${problems.map((p) => p.message).join('; ')}`);
  }
  return dashboard;
}

export async function runReport(files: string[], o: ReportOptions): Promise<number> {
  // the report is an output like any other: never one of the inputs, written atomically
  const inputs: InputIdentity[] = [];
  for (const f of files) {
    const id = await inputIdentity(f);
    if (id) inputs.push(id);
  }
  let out: OutputSet;
  try {
    out = await OutputSet.open([{ label: 'report', path: o.out }], inputs);
  } catch (err) {
    if (err instanceof OutputPathError) throw new CliError(err.message);
    throw err;
  }
  try {
    const dashboard = await loadRuns(files);
    const snap = dashboard.snapshot();
    await out.get(0).write(renderReport(snap));
    await out.commit((name, err) => new CliError(`cannot write ${name}: ${ioMessage(err)}`));
    if (!o.quiet) process.stderr.write(`moe-router: wrote ${o.out}: ${snap.totals.recordsOut} records, ${snap.run.parts} run${snap.run.parts === 1 ? '' : 's'}\n`);
  } finally {
    await out.abort();
  }
  return 0;
}

