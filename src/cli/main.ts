#!/usr/bin/env node
/**
 * The `moe-router` command. Thin: option declarations here, the work in one
 * module per subcommand. Exit codes: see cli-errors.ts.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { removeTemporaryFiles } from '../sinks/atomic-file.js';
import { SOURCE_FORMATS, type SourceFormat } from './record-source.js';
import { OUTPUT_FORMATS, type OutputFormat } from '../sinks/output-format.js';
import { EXIT, reportError } from './cli-errors.js';
import { parseBackend, parseBoundaries, parseBytes, parseChoice, parseExperts, parseIntIn, parseThreshold } from './options.js';
import { runRoute, type RouteCommandOptions } from './route-command.js';
import { runExplain, type ExplainOptions } from './explain-command.js';
import { parseTargets, runCalibrate, type CalibrateOptions } from './calibrate-command.js';
import { runMergeStats, type MergeStatsOptions } from './merge-stats-command.js';

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function routerOptions(cmd: Command): Command {
  return cmd
    .option('--config <file>', 'router config JSON ({numExperts, complexityThreshold, boundaries, weights, caps}); options below override it')
    .option('--experts <n>', 'number of experts (1..1024)', parseExperts)
    .option('--threshold <t>', 'complexity threshold in (0, 1] that scales the default boundaries', parseThreshold)
    .option('--boundaries <list>', 'explicit boundaries a,b,... (experts - 1 of them, strictly increasing, in (0, 1))', parseBoundaries);
}

const DEFAULT_BATCH_BYTES = 8 << 20;
const DEFAULT_BATCH_RECORDS = 65536;

function readerOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--format <format>', 'input format: lines | jsonl | csv | tsv | parquet | arrow (default: Parquet, Arrow IPC, gzip and zstd by their first bytes; then the extension: .jsonl/.ndjson, .csv, .tsv, also under .gz/.zst; else lines)').argParser(parseChoice<SourceFormat>(SOURCE_FORMATS)))
    .option('--field <name>', 'text field: a JSON path like meta.text (jsonl), a header column (csv/tsv), or a column, nested as a.b (parquet/arrow)', 'text')
    .addOption(new Option('--backend <backend>', 'auto | gpu | cpu (auto: GPU if an adapter exists, else CPU)').argParser(parseBackend))
    .option('--batch-bytes <size>', 'bytes of text per routed batch (1K..4G; K/M/G suffixes)', parseBytes, DEFAULT_BATCH_BYTES)
    .option('--batch-records <n>', 'records per routed batch at most', parseIntIn(1, 1 << 24), DEFAULT_BATCH_RECORDS)
    .addOption(new Option('--on-error <mode>', 'bad record (invalid JSON, missing field, bad CSV quoting): fail = stop with exit 1; skip = write an error record and go on').argParser(parseChoice(['fail', 'skip'] as const)).default('fail'));
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('moe-router')
    .description('Route text to experts like a switched (top-1) Mixture-of-Experts router, on the GPU (WebGPU) or the CPU, with identical results')
    .version(version(), '-V, --version')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s.startsWith('error:') ? `moe-router: ${s}` : s) });

  const route = program
    .command('route')
    .summary('route every record of a corpus (file or stdin), streaming, in input order')
    .description(
      'Route every record of a corpus. Each output record holds the record index (0-based line or row number), expert, complexity and confidence, in input order; ' +
        'exactly one output record per input record. Reads stdin when INPUT is - or missing; data goes to stdout (or --out), the summary to stderr.',
    )
    .argument('[input]', 'input file, or - for stdin');
  readerOptions(routerOptions(route))
    .option('-o, --out <file>', 'output file, or - for stdout (written to a temporary name, renamed when complete)', '-')
    .addOption(new Option('--output-format <format>', 'jsonl | csv | tsv | parquet (parquet needs --out FILE)').argParser(parseChoice<OutputFormat | 'parquet'>([...OUTPUT_FORMATS, 'parquet'])).default('jsonl'))
    .option('--include-text', 'add the text to each output record')
    .option('--shards <dir>', 'also write each record, unchanged, to DIR/expert-K.<ext> (one file per expert, input order; Parquet input gives Parquet shards)')
    .option('--shard <i/n>', 'route only part I of N of the file (0-based: 0/4 .. 3/4), split on record boundaries (Parquet: on row groups); indexes stay global')
    .option('--stats <file>', 'write the run summary as JSON')
    .option('-q, --quiet', 'no progress bar and no summary on stderr')
    .option('--no-progress', 'no progress bar (it is only shown when stderr is a terminal anyway)')
    .action(async (input: string | undefined, opts: RouteCommandOptions) => {
      process.exitCode = await runRoute(input, opts);
    });

  const explain = program
    .command('explain')
    .summary('the detailed analysis of strings: complexity, expert, confidence and the feature breakdown')
    .argument('<text...>', 'strings to explain');
  routerOptions(explain)
    .option('--json', 'print JSON instead of a table')
    .action(async (texts: string[], opts: ExplainOptions) => {
      process.exitCode = await runExplain(texts, opts);
    });

  const calibrate = program
    .command('calibrate')
    .summary('compute the boundaries that split a corpus into given shares per expert')
    .description('Route the corpus, then place the boundaries at exact quantiles of the scores so that the experts get the --target shares (as close as ties allow); prints the boundaries and the achieved shares.')
    .argument('[input]', 'input file, or - for stdin')
    .requiredOption('--target <shares>', 'share per expert, summing to 1, e.g. 0.5,0.3,0.2 (their count is the number of experts)', parseTargets);
  readerOptions(calibrate)
    .option('--config <file>', 'start from this config (its weights and caps are kept)')
    .option('--write-config <file>', 'write the calibrated config JSON (read it with route --config)')
    .option('--json', 'print JSON')
    .action(async (input: string | undefined, opts: CalibrateOptions) => {
      process.exitCode = await runCalibrate(input, opts);
    });

  program
    .command('merge-stats')
    .summary('merge the --stats files of the parts of a --shard run into one')
    .argument('<files...>', 'stats JSON files')
    .option('-o, --out <file>', 'write the merged JSON here instead of stdout')
    .option('--allow-partial', 'merge even if the parts do not cover the file exactly once')
    .option('-q, --quiet', 'no summary on stderr')
    .action(async (files: string[], opts: MergeStatsOptions) => {
      process.exitCode = await runMergeStats(files, opts);
    });

  return program;
}

function onSignal(signal: NodeJS.Signals, code: number): void {
  process.once(signal, () => {
    removeTemporaryFiles();
    process.stderr.write(`\nmoe-router: interrupted (${signal}); incomplete output files removed\n`);
    process.exit(code);
  });
}

export async function main(argv: string[]): Promise<number> {
  onSignal('SIGINT', 130);
  onSignal('SIGTERM', 143);
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version exit 0; every usage error (bad option value, unknown option or command, no command) exits 2
      return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    removeTemporaryFiles();
    return reportError(err);
  }
}

const code = await main(process.argv);
process.exitCode = code;
