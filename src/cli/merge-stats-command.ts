/** `moe-router merge-stats FILE...`: one stats JSON from the --stats files of the parts of a --shard run. */
import { AtomicFile } from '../sinks/atomic-file.js';
import { CliError, ioError } from './cli-errors.js';
import { readJsonFile } from './input.js';
import { stat } from 'node:fs/promises';
import { checkMergeable, mergeStats, statsShapeProblem, STATS_VERSION, type StatsPart } from '../job/run-stats.js';
import { formatSummary } from './summary.js';

export interface MergeStatsOptions {
  out?: string;
  allowPartial?: boolean;
  quiet?: boolean;
}

export async function runMergeStats(files: string[], o: MergeStatsOptions): Promise<number> {
  const parts: StatsPart[] = [];
  for (const f of files) parts.push(await readStatsPart(f));
  if (o.out && o.out !== '-') await refuseOutputThatIsAPart(o.out, parts);
  const problems = checkMergeable(parts);
  const refusal = problems.find((p) => p.kind !== 'gap');
  // a mismatch or a duplicate would add up what does not belong together: --allow-partial never merges those
  if (refusal) throw new CliError(`cannot merge: ${refusal.message}`);
  if (problems.length > 0 && !o.allowPartial) {
    throw new CliError(`the stats do not cover the file exactly: ${problems.map((p) => p.message).join('; ')} (--allow-partial merges anyway)`);
  }
  const merged = mergeStats(parts.map((p) => p.stats));
  // a partial merge must say so: its counts are not those of the whole input
  if (problems.length > 0) merged.missingParts = problems.map((p) => p.message);
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

async function readStatsPart(f: string): Promise<StatsPart> {
  const v = await readJsonFile(f, 'stats');
  const s = v as Partial<StatsPart['stats']> | null;
  if (!s || typeof s !== 'object' || typeof s.version !== 'number' || !Array.isArray(s.perExpert) || typeof s.recordsIn !== 'number') {
    throw new CliError(`stats ${f}: not a moe-router --stats file`);
  }
  if (s.version !== STATS_VERSION || !s.router || !s.inputFingerprint) {
    throw new CliError(
      `stats ${f}: version ${s.version} has no router config or input identity to check (written by ${s.version < STATS_VERSION ? 'an older' : 'a newer'} moe-router); route that part again`,
    );
  }
  const problem = statsShapeProblem(s);
  if (problem) throw new CliError(`stats ${f}: not a valid moe-router --stats file: ${problem}`);
  let fileId: string | undefined;
  try {
    const st = await stat(f);
    fileId = `${st.dev}:${st.ino}`;
  } catch {
    // read a moment ago: a vanished file is just not checked for being given twice
  }
  return { file: f, stats: s as StatsPart['stats'], ...(fileId !== undefined ? { fileId } : {}) };
}

/** An output must never destroy an input: --out may not be (a link to) one of the parts. */
async function refuseOutputThatIsAPart(out: string, parts: readonly StatsPart[]): Promise<void> {
  let id: string;
  try {
    const st = await stat(out);
    id = `${st.dev}:${st.ino}`;
  } catch {
    return; // does not exist yet (or cannot be examined): writing it reports any problem
  }
  const part = parts.find((p) => p.fileId === id);
  if (part) throw new CliError(`--out ${out} is ${part.file}, one of the stats files to merge: write the merged stats elsewhere`);
}
