/**
 * `moe-router calibrate [INPUT] --target 0.5,0.3,0.2`: boundaries that split
 * this corpus into those shares, from exact quantiles of the Q16 scores.
 * Ties (many records with the same score) can make an exact share
 * impossible: the achieved shares are always reported.
 */
import { InputError } from '../errors.js';
import { SwitchedMoE, type Backend } from '../router/switched-moe.js';
import { AtomicFile } from '../sinks/atomic-file.js';
import { routePackedBatches } from '../job/batch-pipeline.js';
import { CliError, ioError, warn } from './cli-errors.js';
import { openRecordSource, type RecordSource, type SourceFormat } from './record-source.js';
import { loadConfigFile, type ConfigFile } from './options.js';
import { runBudgetCalibrate } from './calibrate-budget.js';
import { loadExpertModels } from './models-config.js';

const ONE = 65536;

export interface CalibrateOptions {
  target: number[];
  format?: SourceFormat;
  field?: string;
  backend?: Backend;
  config?: string;
  writeConfig?: string;
  json?: boolean;
  batchBytes: number;
  batchRecords: number;
  onError: 'fail' | 'skip';
  /** --budget: calibrate for a cost budget instead of shares (calibrate-budget.ts). */
  budget?: number;
}


export interface Calibration {
  records: number;
  targets: number[];
  boundariesQ16: number[];
  boundaries: number[];
  counts: number[];
  achieved: number[];
  exact: boolean;
  note?: string;
}

function lowerBound(sorted: Uint32Array, value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Boundaries (Q16) for cumulative target shares over sorted Q16 scores. A record goes to expert e when boundary[e-1] <= score < boundary[e]. */
export function calibrate(sorted: Uint32Array, targets: readonly number[]): Calibration {
  const n = sorted.length;
  if (n === 0) throw new CliError('the corpus has no routed records: nothing to calibrate on');
  const boundariesQ16: number[] = [];
  let cum = 0;
  let prev = 0;
  let adjusted = false;
  for (let j = 0; j < targets.length - 1; j++) {
    cum += targets[j];
    const idx = Math.min(n, Math.max(0, Math.round(cum * n)));
    let b = idx < n ? sorted[idx] : sorted[n - 1] + 1;
    if (b < prev + 1) {
      b = prev + 1;
      adjusted = true;
    }
    if (b < 1) b = 1;
    if (b > ONE - 1) {
      throw new CliError(
        `cannot place ${targets.length - 1} strictly increasing boundaries in (0, 1): the scores are too concentrated near 1 (highest score ${sorted[n - 1] / ONE}); use fewer experts`,
      );
    }
    boundariesQ16.push(b);
    prev = b;
  }
  const counts: number[] = [];
  let below = 0;
  for (const b of boundariesQ16) {
    const at = lowerBound(sorted, b);
    counts.push(at - below);
    below = at;
  }
  counts.push(n - below);
  const achieved = counts.map((c) => c / n);
  // a share below one record's cannot be met by any boundary: such an expert gets 0 or 1 records, never its share
  const belowOne = targets.map((t, e) => ({ t, e })).filter(({ t }) => t * n < 1);
  const exact = belowOne.length === 0 && achieved.every((a, e) => Math.abs(a - targets[e]) <= 1 / n + 1e-12);
  const result: Calibration = {
    records: n,
    targets: [...targets],
    boundariesQ16,
    boundaries: boundariesQ16.map((b) => b / ONE),
    counts,
    achieved,
    exact,
  };
  if (belowOne.length > 0) {
    const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;
    const names = belowOne.map(({ t, e }) => `expert ${e} (${pct(t)})`);
    // the note stays one readable line even when hundreds of experts are named
    const shown = names.length > 4 ? [...names.slice(0, 3), `${names.length - 3} more experts`] : names;
    const list = shown.length === 1 ? shown[0] : `${shown.slice(0, -1).join(', ')} and ${shown[shown.length - 1]}`;
    result.note =
      `the share${names.length > 1 ? 's' : ''} of ${list} ${names.length > 1 ? 'are' : 'is'} less than one record of ${n} (${pct(1 / n)}), ` +
      `so no boundary can meet ${names.length > 1 ? 'them' : 'it'}: calibrate on more records, or give ${names.length > 1 ? 'those experts' : 'that expert'} a larger share`;
  } else if (!exact) {
    result.note = `the shares cannot be met exactly: ${adjusted ? 'boundaries had to be moved apart; ' : ''}records with equal scores (ties) always go to the same expert`;
  }
  return result;
}

/** The calibrated config (the base's weights, caps and models kept; boundaries replaced), written with --write-config. */
export async function writeCalibratedConfig(base: ConfigFile, numExperts: number, boundaries: number[], path: string | undefined): Promise<ConfigFile> {
  const config: ConfigFile = { ...base, numExperts, boundaries };
  delete config.complexityThreshold;
  if (path) {
    try {
      const f = await AtomicFile.open(path);
      await f.write(JSON.stringify(config, null, 2) + '\n');
      await f.commit();
    } catch (err) {
      throw ioError('write config', path, err);
    }
  }
  return config;
}

/**
 * Routes a calibration corpus and calls `each` with the score and text of every good record, in
 * order. A bad record stops the run with an InputError (--on-error fail) or is left out and counted
 * (skip): returns how many were left out. The router is disposed at the end.
 */
export async function forEachRoutedRecord(
  moe: SwitchedMoE,
  opened: RecordSource,
  o: { backend?: Backend; onError: 'fail' | 'skip' },
  each: (scoreQ16: number, bytes: Uint8Array, start: number, end: number) => void,
): Promise<number> {
  let skipped = 0;
  try {
    for await (const { batch, routing } of routePackedBatches(moe, opened.batches, { ...(o.backend ? { backend: o.backend } : {}), onWarning: warn })) {
      if (batch.errors.length > 0 && o.onError === 'fail') {
        const e = batch.errors[0];
        throw new InputError(opened.name, e.line, `${e.message} (record ${batch.firstIndex + e.local}; --on-error skip leaves it out)`);
      }
      if (!routing) continue;
      const { bytes, offsets } = batch.text;
      let nextErr = 0;
      for (let i = 0; i < batch.count; i++) {
        if (nextErr < batch.errors.length && batch.errors[nextErr].local === i) {
          nextErr++;
          skipped++;
          continue;
        }
        each(routing.scoresQ16[i], bytes, offsets[i], offsets[i + 1]);
      }
    }
  } finally {
    await moe.dispose();
  }
  return skipped;
}

export async function runCalibrate(input: string | undefined, o: CalibrateOptions): Promise<number> {
  if (o.budget !== undefined || (o.target as number[] | undefined) === undefined) return runBudgetCalibrate(input, o);
  const base: ConfigFile = o.config !== undefined ? await loadConfigFile(o.config) : {};
  await loadExpertModels(o.config, o.target.length); // the written config keeps the models: one per share
  // formats: text, gzip/zstd text, Parquet or Arrow IPC, by the input's first bytes
  const opened = await openRecordSource(input, o, undefined, false);
  const { weights, caps } = base;
  const moe = new SwitchedMoE({
    ...(weights ? { weights } : {}),
    ...(caps ? { caps } : {}),
    numExperts: o.target.length,
    ...(o.backend ? { backend: o.backend } : {}),
    onWarning: warn,
  });
  let scores = new Uint32Array(1 << 16);
  let n = 0;
  const skipped = await forEachRoutedRecord(moe, opened, o, (scoreQ16) => {
    if (n === scores.length) {
      const next = new Uint32Array(scores.length * 2);
      next.set(scores);
      scores = next;
    }
    scores[n++] = scoreQ16;
  });
  const sorted = scores.subarray(0, n).sort();
  const cal = calibrate(sorted, o.target);
  const config = await writeCalibratedConfig(base, o.target.length, cal.boundaries, o.writeConfig);
  if (o.json) {
    process.stdout.write(JSON.stringify({ input: opened.name, skipped, ...cal, config }, null, 2) + '\n');
    return 0;
  }
  const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;
  const lines: string[] = [];
  lines.push(`calibrated ${o.target.length} experts on ${cal.records} records of ${opened.name}${skipped ? ` (${skipped} bad records left out)` : ''}`);
  lines.push('');
  lines.push('  expert  target    achieved  records  complexity range');
  for (let e = 0; e < o.target.length; e++) {
    const lo = e === 0 ? 0 : cal.boundaries[e - 1];
    const hi = e === o.target.length - 1 ? '1]' : `${cal.boundaries[e]})`;
    lines.push(`  ${String(e).padStart(6)}  ${pct(cal.targets[e]).padStart(7)}  ${pct(cal.achieved[e]).padStart(8)}  ${String(cal.counts[e]).padStart(7)}  [${lo}, ${hi}`);
  }
  lines.push('');
  lines.push(`boundaries: ${cal.boundaries.join(',')}`);
  if (cal.note) lines.push(`note: ${cal.note}`);
  if (o.writeConfig) lines.push(`wrote ${o.writeConfig}: use it with  moe-router route --config ${o.writeConfig}`);
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
