/**
 * The text around the option lists of `moe-router --help` and `route --help`:
 * examples, the environment variables and the exit codes. Built from the
 * constants the code uses, so the help cannot name a variable or a code that
 * does not exist (test/cli-help.test.ts also checks every MOE_ROUTER_ name in src/).
 */
import { AUTO_SOFTWARE_GPU_ENV, BACKENDS, BACKEND_ENV } from '../router/switched-moe.js';
import { CPU_KERNEL_ENV } from '../backends/cpu/cpu-backend.js';
import { GPU_ADAPTER_ENV, GPU_BACKEND_ENV, GPU_BACKENDS } from '../backends/gpu/gpu-options.js';
import { EXIT } from './cli-errors.js';

/** Read in cli-errors.ts (reportError). */
const DEBUG_ENV = 'MOE_ROUTER_DEBUG';

/** One line per exit code; typed so that a new code in EXIT must be described here. */
const EXIT_DESCRIPTIONS: Record<keyof typeof EXIT, string> = {
  OK: 'success (also --help and --version)',
  BAD_RECORD: 'a bad input record (invalid JSON, missing field, bad CSV quoting) without --on-error skip',
  USAGE: 'usage: an invalid option or config, an unreadable input, an unwritable output, no GPU for --backend gpu',
  INTERNAL: `an internal error (a bug; ${DEBUG_ENV}=1 prints the stack)`,
};

function examples(rows: ReadonlyArray<readonly [string, string]>): string {
  return rows.map(([command, what]) => `  # ${what}\n  ${command}`).join('\n');
}

function table(rows: ReadonlyArray<readonly [string, string]>): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join('\n');
}

const ROUTE_EXAMPLES: ReadonlyArray<readonly [string, string]> = [
  ['moe-router route corpus.txt > routed.jsonl', 'one JSON record per line of corpus.txt'],
  ['moe-router route data.jsonl --field meta.text --include-text', 'route a JSON field, keep the text'],
  ['moe-router route data.csv --output-format csv -o routed.csv', 'CSV in, CSV out'],
  ['cat corpus.txt | moe-router route --backend cpu -q', 'stdin, on the CPU, no summary'],
  ['moe-router route corpus.txt --shards out/', 'split the corpus into out/expert-K.txt'],
  ['moe-router route big.txt --shard 0/4 --stats part0.json', 'part 1 of 4 (one machine each)'],
];

const OTHER_EXAMPLES: ReadonlyArray<readonly [string, string]> = [
  ["moe-router explain 'Hello world' 'fn(x) => x * 2'", 'the analysis of single strings'],
  ['moe-router calibrate corpus.txt --target 0.5,0.3,0.2 --write-config cfg.json', 'boundaries for given shares'],
  ['moe-router route corpus.txt --config cfg.json', 'route with them'],
  ['moe-router merge-stats part*.json', 'the summary of a --shard run'],
];

export const ROUTE_HELP_AFTER = `
Examples:
${examples(ROUTE_EXAMPLES)}
`;

export const PROGRAM_HELP_AFTER = `
Examples:
${examples([...ROUTE_EXAMPLES.slice(0, 3), ...OTHER_EXAMPLES])}

Environment:
${table([
  [BACKEND_ENV, `default of --backend: ${BACKENDS.join(' | ')}`],
  [AUTO_SOFTWARE_GPU_ENV, 'set to 1: let auto use a software adapter (llvmpipe) instead of the faster CPU backend'],
  [CPU_KERNEL_ENV, 'wasm (the default where WebAssembly runs) | js: the cpu backend\'s kernel, the output formatter and the line packer'],
  [GPU_BACKEND_ENV, `Dawn backend for the GPU: ${GPU_BACKENDS.join(' | ')}`],
  [GPU_ADAPTER_ENV, 'use the GPU adapter whose name starts with this (machines with several GPUs)'],
  [DEBUG_ENV, 'set to 1: print the stack with an internal error'],
  ['EGL_PLATFORM', "Mesa's EGL platform for the software adapter (surfaceless when unset)"],
])}

Exit codes:
${table([
  ...(Object.keys(EXIT) as Array<keyof typeof EXIT>).map((k) => [String(EXIT[k]), EXIT_DESCRIPTIONS[k]] as const),
  ['129/130/131/143', 'interrupted by SIGHUP/SIGINT/SIGQUIT/SIGTERM (incomplete output files are removed)'],
  ['141', 'the reader of stdout went away (| head): ended quietly, as SIGPIPE ends GNU filters'],
])}
`;
