/**
 * `moe-router calibrate [INPUT] --budget AMOUNT --config models.json`: the
 * boundaries that keep the corpus's estimated cost within the budget while
 * sending the most records to the top (most expensive) expert, then to the
 * one below it, and so on (src/model/budget-calibration.ts defines it).
 */
import { ConfigError } from '../errors.js';
import { SwitchedMoE } from '../router/switched-moe.js';
import { countChars } from '../model/expert-models.js';
import { ScoreHistogram, calibrateBudget, checkRisingPrices, type BudgetCalibration } from '../model/budget-calibration.js';
import { CliError, warn } from './cli-errors.js';
import { openRecordSource } from './record-source.js';
import { loadConfigFile, type ConfigFile } from './options.js';
import { loadExpertModels } from './models-config.js';
import { formatCost } from './cost-summary.js';
import { forEachRoutedRecord, writeCalibratedConfig, type CalibrateOptions } from './calibrate-command.js';

export type BudgetCalibrateOptions = Omit<CalibrateOptions, 'target'> & { target?: number[]; budget?: number };

/** Parses --budget: a plain non-negative number in the models' currency. */

export async function runBudgetCalibrate(input: string | undefined, o: BudgetCalibrateOptions): Promise<number> {
  if (o.budget === undefined) {
    throw new CliError("required option '--target <shares>' not specified (or calibrate for a cost budget: --budget AMOUNT with models in --config)");
  }
  if (o.target !== undefined) throw new CliError('give --target (shares) or --budget (a cost budget), not both');
  if (o.config === undefined) throw new CliError('--budget needs --config FILE with "models": one model and its prices per expert');
  const base: ConfigFile = await loadConfigFile(o.config);
  if (base.models === undefined) throw new CliError(`--budget needs "models" in the config ${o.config}: one model and its prices per expert`);
  const models = (await loadExpertModels(o.config)) ?? [];
  try {
    checkRisingPrices(models);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(`config ${o.config}: ${err.message}`);
    throw err;
  }
  // formats: text, gzip/zstd text, Parquet or Arrow IPC, by the input's first bytes
  const opened = await openRecordSource(input, o, undefined, false);
  const { weights, caps } = base;
  const moe = new SwitchedMoE({
    ...(weights ? { weights } : {}),
    ...(caps ? { caps } : {}),
    numExperts: models.length,
    ...(o.backend ? { backend: o.backend } : {}),
    onWarning: warn,
  });
  const hist = new ScoreHistogram();
  const skipped = await forEachRoutedRecord(moe, opened, o, (scoreQ16, bytes, start, end) => hist.add(scoreQ16, countChars(bytes, start, end)));
  if (hist.total === 0) throw new CliError('the corpus has no routed records: nothing to calibrate on');
  let cal: BudgetCalibration;
  try {
    cal = calibrateBudget(hist, models, o.budget);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message);
    throw err;
  }
  const config = await writeCalibratedConfig(base, models.length, cal.boundaries, o.writeConfig);
  if (o.json) {
    process.stdout.write(JSON.stringify({ input: opened.name, skipped, ...cal, config }, null, 2) + '\n');
    return 0;
  }
  process.stdout.write(formatBudgetCalibration(cal, models.map((m) => m.model), opened.name, skipped, o.writeConfig));
  return 0;
}

function formatBudgetCalibration(cal: BudgetCalibration, names: string[], input: string, skipped: number, writeConfig: string | undefined): string {
  const n = names.length;
  const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;
  const head = ['expert', 'model', 'records', 'share', 'chars', 'est. cost', 'complexity range'];
  const rows = names.map((m, e) => [
    String(e),
    m,
    String(cal.counts[e]),
    pct(cal.shares[e]),
    String(cal.chars[e]),
    formatCost(cal.perExpert[e]),
    `[${e === 0 ? 0 : cal.boundaries[e - 1]}, ${e === n - 1 ? '1]' : `${cal.boundaries[e]})`}`,
  ]);
  const total = ['total', '', String(cal.records), '', String(cal.chars.reduce((a, b) => a + b, 0)), formatCost(cal.total), ''];
  const all = [head, ...rows, total];
  const width = head.map((_, k) => Math.max(...all.map((r) => r[k].length)));
  const fmt = (r: string[]): string =>
    r.map((v, k) => (k === 1 || k === 6 ? v.padEnd(width[k]) : v.padStart(width[k]))).join('  ').trimEnd();
  const lines: string[] = [];
  lines.push(`calibrated ${n} experts for a budget of ${cal.budget} on ${cal.records} records of ${input}${skipped ? ` (${skipped} bad records left out)` : ''}`);
  lines.push('');
  for (const r of all) lines.push(`  ${fmt(r)}`);
  lines.push('');
  lines.push(`estimated total ${formatCost(cal.total)} of the budget ${cal.budget} (the lowest possible: ${formatCost(cal.minimumCost)}; everything to the top: ${formatCost(cal.maximumCost)})`);
  lines.push(`boundaries: ${cal.boundaries.join(',')}`);
  if (writeConfig) lines.push(`wrote ${writeConfig}: use it with  moe-router route --config ${writeConfig}`);
  return lines.join('\n') + '\n';
}
