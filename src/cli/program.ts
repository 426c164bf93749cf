/**
 * The `moe-router` command. Thin: option declarations here, the work in one
 * module per subcommand. Exit codes: see cli-errors.ts. Started by main.ts.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { removeTemporaryFiles } from '../sinks/atomic-file.js';
import { BrokenPipeError } from '../sinks/stdout-sink.js';
import { ignoreStderrErrors } from './stdio.js';
import { DEFAULT_MAX_RECORD_BYTES, INPUT_FORMATS, type InputFormat } from '../sources/record-reader.js';
import { SOURCE_FORMATS, type SourceFormat } from './record-source.js';
import { OUTPUT_FORMATS, type OutputFormat } from '../sinks/output-format.js';
import { EXIT, reportError } from './cli-errors.js';
import {
  BENCH_QUICK_ENV,
  choiceOption,
  humanBytes,
  parseBackendList,
  parseBoundaries,
  parseBudget,
  parseBytes,
  parseCorpusList,
  parseCountList,
  parseExperts,
  parseIntIn,
  parsePort,
  parseTargets,
  parseThreshold,
} from './options.js';
import { PROGRAM_HELP_AFTER, ROUTE_HELP_AFTER } from './help-text.js';
import { BACKENDS, BACKEND_ENV, type Backend } from '../router/switched-moe.js';
// Each command's module is loaded when the command runs: a `route` run does not pay for loading bench, calibrate or the dashboard server.
import type { RouteCommandOptions } from './route-command.js';
import type { ExplainOptions } from './explain-command.js';
import type { CalibrateOptions } from './calibrate-command.js';
import type { MergeStatsOptions } from './merge-stats-command.js';
import type { DashboardCommandOptions } from './dashboard-command.js';
import type { ReportOptions } from './report-command.js';
import type { BenchCommandOptions } from './bench-command.js';

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
    .option('--config <file>', 'router config JSON ({numExperts, complexityThreshold, boundaries, weights, caps, models}); options below override it')
    .option('--experts <n>', 'number of experts (1..1024)', parseExperts)
    .option('--threshold <t>', 'complexity threshold in (0, 1] that scales the default boundaries', parseThreshold)
    .option('--boundaries <list>', 'explicit boundaries a,b,... (experts - 1 of them, strictly increasing, in (0, 1))', parseBoundaries);
}

const DEFAULT_BATCH_BYTES = 8 << 20;
const DEFAULT_BATCH_RECORDS = 65536;

function readerOptions(cmd: Command): Command {
  return cmd
    .addOption(choiceOption<SourceFormat>('--format <format>', 'input format (default: Parquet, Arrow IPC, gzip and zstd by their first bytes; then the extension: .jsonl/.ndjson, .csv, .tsv, also under .gz/.zst; else lines; stdin: lines)', SOURCE_FORMATS))
    .option('--field <name>', 'text field: a JSON path like meta.text (jsonl), a header column (csv/tsv), or a column, nested as a.b (parquet/arrow)', 'text')
    .addOption(choiceOption<Backend>('--backend <backend>', `auto: a hardware GPU if there is one, else the fast CPU kernel (default: $${BACKEND_ENV}, else auto)`, BACKENDS))
    .addOption(new Option('--batch-bytes <size>', 'bytes of text per routed batch (1K..4G; K/M/G suffixes)').argParser(parseBytes).default(DEFAULT_BATCH_BYTES, humanBytes(DEFAULT_BATCH_BYTES)))
    .option('--batch-records <n>', 'records per routed batch at most', parseIntIn(1, 1 << 24), DEFAULT_BATCH_RECORDS)
    .option('--max-record-bytes <size>', 'longest record (K/M/G suffixes; default 256M): a longer one is a bad record, found while it grows, so an input without line ends cannot fill memory', parseBytes, DEFAULT_MAX_RECORD_BYTES)
    .addOption(choiceOption('--on-error <mode>', 'bad record (invalid JSON, missing field, bad CSV quoting, longer than --max-record-bytes): fail = stop with exit 1; skip = write an error record and go on', ['fail', 'skip'] as const).default('fail'));
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('moe-router')
    .description('Route text to experts like a switched (top-1) Mixture-of-Experts router, on the GPU (WebGPU) or the CPU, with identical results')
    .version(version(), '-V, --version', 'output the version number (also -v)')
    .addOption(new Option('-v').hideHelp())
    .addHelpText('after', PROGRAM_HELP_AFTER)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s.startsWith('error:') ? `moe-router: ${s}` : s) });

  const route = program
    .command('route')
    .summary('route every record of a corpus (file or stdin), streaming, in input order')
    .description(
      'Route every record of a corpus. Each output record holds the record index (0-based line or row number), expert, complexity and confidence, in input order; ' +
        'exactly one output record per input record. Reads stdin when INPUT is - or missing; data goes to stdout (or --out), the summary to stderr.',
    )
    .argument('[input]', 'input file, or - for stdin')
    .addHelpText('after', ROUTE_HELP_AFTER);
  readerOptions(routerOptions(route))
    .option('-o, --out <file>', 'output file, or - for stdout (written to a temporary name, renamed when complete)', '-')
    .addOption(choiceOption<OutputFormat | 'parquet'>('--output-format <format>', 'output record format (parquet needs --out FILE)', [...OUTPUT_FORMATS, 'parquet']).default('jsonl'))
    .option('--include-text', 'add the text to each output record')
    .option('--shards <dir>', 'also write each record, unchanged, to DIR/expert-K.<ext> (one file per expert, input order; Parquet input gives Parquet shards)')
    .option('--shard <i/n>', 'route only part I of N of the file (0-based: 0/4 .. 3/4), split on record boundaries (Parquet: on row groups); indexes stay global')
    .option('--stats <file>', 'write the run summary as JSON')
    .option('--explain', 'add each record\'s top contributing feature: "cause" (feature and its contribution to the score)')
    .option('-q, --quiet', 'no progress bar and no summary on stderr')
    .option('--no-progress', 'no progress bar (it is only shown when stderr is a terminal anyway)')
    .option('--threads <n>', 'worker threads for the CPU backend (default: the available parallelism)', parseIntIn(1, 256))
    .option('--hadoop-counters', 'at the end, write Hadoop Streaming counters to stderr (reporter:counter:moe-router,expert-K,N; records-in, records-out, ...), also with -q')
    .option('--dashboard [port]', 'serve a live dashboard on 127.0.0.1 (default: any free port; the URL is printed on stderr). Put it after INPUT, or write --dashboard=PORT', parsePort)
    .option('--host <addr>', 'with --dashboard: listen on this address instead of 127.0.0.1 (warns)')
    .option('--dashboard-exit', 'with --dashboard: exit when the run ends instead of serving until Ctrl-C')
    .option('--report <file>', 'write the offline HTML report of the run (self-contained, written atomically)')
    .option('--snapshot <file>', "write the dashboard's final snapshot JSON (for moe-router dashboard|report; merges shards)")
    .action(async (input: string | undefined, opts: RouteCommandOptions) => {
      const { runRoute } = await import('./route-command.js');
      process.exitCode = await runRoute(input, opts);
    });

  const explain = program
    .command('explain')
    .summary('the detailed analysis of strings: complexity, expert, confidence and the feature breakdown')
    .argument('<text...>', 'strings to explain');
  routerOptions(explain)
    .option('--json', 'print JSON instead of a table')
    .action(async (texts: string[], opts: ExplainOptions) => {
      const { runExplain } = await import('./explain-command.js');
      process.exitCode = await runExplain(texts, opts);
    });

  const calibrate = program
    .command('calibrate')
    .summary('compute the boundaries that split a corpus into given shares per expert')
    .description('Route the corpus, then place the boundaries at exact quantiles of the scores so that the experts get the --target shares (as close as ties allow); prints the boundaries and the achieved shares.')
    .argument('[input]', 'input file, or - for stdin')
    .option('--target <shares>', 'share per expert, summing to 1, e.g. 0.5,0.3,0.2 (their count is the number of experts)', parseTargets)
    .option('--budget <amount>', 'instead of --target: keep the estimated cost of the corpus within AMOUNT, sending the most to the top experts (needs "models" with prices in --config)', parseBudget);
  readerOptions(calibrate)
    .option('--config <file>', 'start from this config (its weights and caps are kept)')
    .option('--write-config <file>', 'write the calibrated config JSON (read it with route --config)')
    .option('--json', 'print JSON')
    .action(async (input: string | undefined, opts: CalibrateOptions) => {
      const { runCalibrate } = await import('./calibrate-command.js');
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
      const { runMergeStats } = await import('./merge-stats-command.js');
      process.exitCode = await runMergeStats(files, opts);
    });

  program
    .command('bench')
    .summary('benchmark every backend (exactness first): MB/s, records/s, p50/p99 per batch, end to end, peak RSS, GPU stages')
    .description(
      'Checks that every backend (cpu-reference, cpu, gpu) and every `route` run gives identical results on every corpus, then measures: routeBatch on pre-packed ' +
        'batches of 1 to 10M records, and `moe-router route FILE --out /dev/null` end to end (threads 1..N, --include-text, gpu) beside `wc -l`. ' +
        'Corpora: generated short, medium and long strings (seeded) and FILE. Exits 1, printing no figure, if any result differs.',
    )
    .argument('[file]', 'your own corpus (lines, jsonl, csv or tsv, as route reads it)')
    .option('--quick', `small corpora and short time budgets (also ${BENCH_QUICK_ENV}=1)`)
    .option('--json', 'print the whole report as JSON')
    .option('--markdown', 'print the tables as Markdown (for a README)')
    .option('--html <file>', 'also write a self-contained HTML page with the charts (inline SVG)')
    .addOption(choiceOption<InputFormat>('--format <format>', 'format of FILE (default: from the extension)', INPUT_FORMATS))
    .option('--field <name>', 'text field of FILE (jsonl path or csv/tsv column)')
    .option('--corpora <list>', 'corpora to run: short,medium,long,file (default: all; file needs FILE)', parseCorpusList)
    .option('--backends <list>', 'in-process backends: cpu-reference,cpu,gpu (default: all; gpu when an adapter exists)', parseBackendList)
    .option('--threads <list>', 'thread counts of the end-to-end cpu runs (default: 1, 2, 4 .. available parallelism)', parseCountList(1, 256))
    .option('--batch-sizes <list>', 'records per batch, e.g. 1,100,10k,1M (default: 1 to 10M, powers of 10)', parseCountList(1, 100_000_000))
    .option('--time <ms>', 'time budget per measured point (default: 1500, quick: 100)', parseIntIn(1, 600_000))
    .addOption(new Option('--max-batch-bytes <size>', 'largest batch built by repeating a corpus (default: 256M, quick: 32M)').argParser(parseBytes))
    .option('--repeat <n>', 'timed runs per end-to-end configuration; the median is shown (default: 3, quick: 1)', parseIntIn(1, 100))
    .option('--no-end-to-end', 'skip the `route` runs of the binary')
    .option('-q, --quiet', 'no progress lines on stderr')
    .action(async (file: string | undefined, opts: BenchCommandOptions) => {
      const { runBenchCommand } = await import('./bench-command.js');
      process.exitCode = await runBenchCommand(file, opts);
    });

  // -v as users expect, besides commander's -V/--version; thrown like commander's own version exit.
  program.on('option:v', () => {
    process.stdout.write(`${version()}\n`);
    throw new CommanderError(EXIT.OK, 'commander.version', version());
  });
  program
    .command('dashboard')
    .summary('serve the dashboard page of finished runs (route --snapshot or --stats files; shards are merged) until Ctrl-C')
    .argument('<files...>', 'snapshot or stats JSON files')
    .option('--port <port>', 'port (default: any free port)', parsePort, 0)
    .option('--host <addr>', 'listen on this address instead of 127.0.0.1 (warns)')
    .action(async (files: string[], opts: DashboardCommandOptions) => {
      const { runDashboard } = await import('./dashboard-command.js');
      process.exitCode = await runDashboard(files, opts);
    });

  program
    .command('report')
    .summary('write the offline HTML report of finished runs (route --snapshot or --stats files; shards are merged)')
    .argument('<files...>', 'snapshot or stats JSON files')
    .requiredOption('-o, --out <file>', 'the report file (self-contained HTML, written atomically)')
    .option('-q, --quiet', 'no message on stderr')
    .action(async (files: string[], opts: ReportOptions) => {
      const { runReport } = await import('./report-command.js');
      process.exitCode = await runReport(files, opts);
    });

  return program;
}

/** Exit status of a process ended by SIGPIPE (128 + 13), as GNU filters report a reader that went away. */
const EXIT_SIGPIPE = 141;

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
  onSignal('SIGHUP', 129);
  onSignal('SIGQUIT', 131);
  ignoreStderrErrors();
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
    // `moe-router route big | head -1`: the reader has what it wanted; no message.
    if (err instanceof BrokenPipeError) return EXIT_SIGPIPE;
    return reportError(err);
  }
}

