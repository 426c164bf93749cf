/** `moe-router merge-stats FILE...`: one stats JSON from the --stats files of the parts of a --shard run. */
import { readFile } from 'node:fs/promises';
import { AtomicFile } from '../io/atomic-file.js';
import { CliError, ioError } from './cli-errors.js';
import { checkShardCoverage, formatSummary, mergeStats, type RunStats } from './summary.js';

export interface MergeStatsOptions {
  out?: string;
  allowPartial?: boolean;
  quiet?: boolean;
}

export async function runMergeStats(files: string[], o: MergeStatsOptions): Promise<number> {
  const all: RunStats[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = await readFile(f, 'utf8');
    } catch (err) {
      throw ioError('read stats', f, err);
    }
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (err) {
      throw new CliError(`stats ${f}: invalid JSON: ${(err as Error).message}`);
    }
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
