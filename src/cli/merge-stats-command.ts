/** `moe-router merge-stats FILE...`: one stats JSON from the --stats files of the parts of a --shard run. */
import { AtomicFile } from '../sinks/atomic-file.js';
import { CliError, ioError } from './cli-errors.js';
import { readJsonFile } from './input.js';
import { checkShardCoverage, mergeStats, type RunStats } from '../job/run-stats.js';
import { formatSummary } from './summary.js';

export interface MergeStatsOptions {
  out?: string;
  allowPartial?: boolean;
  quiet?: boolean;
}

export async function runMergeStats(files: string[], o: MergeStatsOptions): Promise<number> {
  const all: RunStats[] = [];
  for (const f of files) {
    const v = await readJsonFile(f, 'stats');
    const s = v as Partial<RunStats> | null;
    if (!s || typeof s !== 'object' || s.version !== 1 || !Array.isArray(s.perExpert) || typeof s.recordsIn !== 'number') {
      throw new CliError(`stats ${f}: not a moe-router --stats file (version 1)`);
    }
    all.push(s as RunStats);
  }
  const problems = checkShardCoverage(all);
  if (problems.length > 0 && !o.allowPartial) throw new CliError(`the stats do not cover the file exactly: ${problems.join('; ')} (--allow-partial merges anyway)`);
  const merged = mergeStats(all);
  const json = JSON.stringify(merged, null, 2) + '\n';
  if (o.out && o.out !== '-') {
    try {
      const f = await AtomicFile.open(o.out);
      await f.write(json);
      await f.commit();
    } catch (err) {
      throw ioError('write output', o.out, err);
    }
  } else {
    process.stdout.write(json);
  }
  if (!o.quiet) process.stderr.write(formatSummary(merged));
  return 0;
}
