/** The benchmark report as text: aligned tables for the terminal, or Markdown for the README. */
import type { BatchPoint } from './batch-runs.js';
import type { CliRun } from './cli-runs.js';
import type { BenchReport } from './suite.js';

type Cell = string;
export type TableStyle = 'text' | 'markdown';

function table(headers: Cell[], rows: Cell[][], style: TableStyle, rightAlign: boolean[]): string {
  if (style === 'markdown') {
    const line = (cells: Cell[]): string => `| ${cells.map((c) => c.replaceAll('|', '\\|')).join(' | ')} |`;
    return [line(headers), `| ${rightAlign.map((r) => (r ? '---:' : '---')).join(' | ')} |`, ...rows.map(line)].join('\n') + '\n';
  }
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: Cell[]): string => cells.map((c, i) => (rightAlign[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n') + '\n';
}

const fixed = (x: number, digits: number): string => x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
export const mbps = (x: number): string => fixed(x, x < 10 ? 2 : x < 100 ? 1 : 0);
const count = (x: number): string => Math.round(x).toLocaleString('en-US');
const ms = (x: number): string => fixed(x, x < 1 ? 3 : x < 100 ? 2 : 0);
const mib = (bytes: number): string => `${fixed(bytes / 2 ** 20, 0)} MiB`;

export function describeMachine(r: BenchReport): string {
  const m = r.machine;
  const load = `load average ${m.loadAverage.start.toFixed(2)} at the start, ${m.loadAverage.end.toFixed(2)} at the end`;
  return `${m.cpu}, ${m.cores} cores (available parallelism ${m.availableParallelism}), ${m.memoryGiB} GiB, ${m.platform}, Node ${m.node}; GPU: ${m.gpu}; ${load}`;
}

function stageText(p: BatchPoint): string {
  const keys = Object.keys(p.stages).filter((k) => k !== 'totalMs');
  return keys.map((k) => `${k.replace(/Ms$/, '')} ${ms(p.stages[k])}`).join(', ');
}

export function batchTable(points: readonly BatchPoint[], style: TableStyle, withStages: boolean): string {
  const headers = ['corpus', 'backend', 'batch', 'MB/s', 'records/s', 'p50 ms', 'p99 ms', 'samples', ...(withStages ? ['stages (mean ms per batch)'] : [])];
  const rows = points.map((p) => {
    const kind = p.corpus.split(':')[0];
    if (p.skipped) return [kind, p.backend, count(p.batchRecords), '–', '–', '–', '–', '0', ...(withStages ? [`skipped: ${p.skipped}`] : [])];
    return [kind, p.backend, count(p.batchRecords), mbps(p.mbPerSecond), count(p.recordsPerSecond), ms(p.p50Ms), ms(p.p99Ms), String(p.samples), ...(withStages ? [stageText(p)] : [])];
  });
  return table(headers, rows, style, [false, false, true, true, true, true, true, true, false]);
}

/** One row per corpus and batch size, a column per backend: the compact form for a README. */
export function pivotTable(points: readonly BatchPoint[], style: TableStyle): string {
  const backends = [...new Set(points.map((p) => p.backend))];
  const keys = [...new Set(points.map((p) => `${p.corpus}\u0000${p.batchRecords}`))];
  const rows: Cell[][] = [];
  for (const key of keys) {
    const [corpus, size] = key.split('\u0000');
    const at = (b: string): BatchPoint | undefined => points.find((p) => p.corpus === corpus && p.batchRecords === Number(size) && p.backend === b && !p.skipped);
    if (backends.every((b) => !at(b))) continue;
    const gpu = at('gpu');
    rows.push([
      corpus.split(':')[0],
      count(Number(size)),
      ...backends.map((b) => {
        const p = at(b);
        return p ? `${mbps(p.mbPerSecond)} (${ms(p.p50Ms)} / ${ms(p.p99Ms)})` : '–';
      }),
      ...(backends.includes('gpu') ? [gpu ? stageText(gpu) : '–'] : []),
    ]);
  }
  const headers = ['corpus', 'batch', ...backends.map((b) => `${b} MB/s (p50 / p99 ms)`), ...(backends.includes('gpu') ? ['gpu stages, mean ms per batch'] : [])];
  return table(headers, rows, style, [false, true, ...backends.map(() => true), false]);
}

export function endToEndTable(runs: readonly CliRun[], style: TableStyle): string {
  const headers = ['corpus', 'run', 'MB/s', 'records/s', 'seconds', 'peak RSS', 'backend'];
  const rows = runs.map((r) => [
    r.corpus.split(':')[0],
    r.label === 'wc -l' ? 'wc -l' : `route ${r.label}`,
    mbps(r.mbPerSecond),
    r.records ? count(r.recordsPerSecond) : '–',
    fixed(r.seconds, 2),
    r.maxRssBytes ? `${r.rssFrom === 'stats' ? '≤ ' : ''}${mib(r.maxRssBytes)}` : '–',
    r.backend,
  ]);
  return table(headers, rows, style, [false, false, true, true, true, true, false]);
}

/** Best MB/s per corpus and backend over all batch sizes: the short summary the README shows. */
export function bestTable(r: BenchReport, style: TableStyle): string {
  const backends = [...new Set(r.batches.map((p) => p.backend))];
  const headers = ['corpus', 'MB', 'records', ...backends.map((b) => `${b} MB/s (batch)`), 'GPU wins from batch'];
  const rows = r.corpora.map((c) => {
    const cells = backends.map((b) => {
      const best = r.batches.filter((p) => p.corpus === c.name && p.backend === b && !p.skipped).sort((x, y) => y.mbPerSecond - x.mbPerSecond)[0];
      return best ? `${mbps(best.mbPerSecond)} (${count(best.batchRecords)})` : '–';
    });
    const win = r.gpuWins.find((w) => w.corpus === c.name);
    return [c.name, fixed(c.bytes / 1e6, 1), count(c.records), ...cells, win ? (win.batchRecords === null ? 'never' : count(win.batchRecords)) : '–'];
  });
  return table(headers, rows, style, [false, true, true, ...backends.map(() => true), true]);
}

export function formatReport(r: BenchReport, style: TableStyle): string {
  const h = (title: string): string => (style === 'markdown' ? `\n#### ${title}\n\n` : `\n== ${title} ==\n`);
  const verified = r.exactness.checks.length;
  let s = `${style === 'markdown' ? '' : 'moe-router bench\n'}machine: ${describeMachine(r)}\n`;
  s += `exactness: verified before measuring: ${verified} comparisons (every backend and CLI run against cpu-reference), all identical (experts, scoresQ16, confidenceQ16)\n`;
  s += h('Best rate per corpus and backend (routeBatch on pre-packed batches)') + bestTable(r, style);
  if (r.endToEnd.length > 0) s += h('End to end: moe-router route FILE --out /dev/null (spawn to exit), beside wc -l') + endToEndTable(r.endToEnd, style);
  s += h('Per batch size (routeBatch): MB/s, records/s, p50/p99 per batch, GPU stages') + (style === 'markdown' ? pivotTable(r.batches, style) : batchTable(r.batches, style, true));
  s += `\npeak RSS of the benchmark process: ${mib(r.benchPeakRssBytes)} (it holds the corpora and the largest batch); ${r.quick ? 'quick mode; ' : ''}took ${r.seconds.toFixed(0)} s\n`;
  return s;
}

/**
 * The README's part: machine, exactness, the best rate per corpus, then end
 * to end and per batch size for one corpus (the user's file / real lines when
 * there is one). bench/update-readme.ts puts it between the README's markers.
 */
export function readmeReport(r: BenchReport): string {
  const focus = r.corpora.find((c) => c.kind === 'file') ?? r.corpora[0];
  const name = focus?.name ?? '';
  let s = `Machine: ${describeMachine(r)}. ${r.date.slice(0, 10)}${r.quick ? ', quick mode' : ''}.\n\n`;
  s += `Exactness, checked before any figure: ${r.exactness.checks.length} comparisons (every backend and every \`route\` run against \`cpu-reference\`), all identical.\n\n`;
  s += `Best rate of \`routeBatch\` on pre-packed batches (MB/s, at the batch size in brackets):\n\n${bestTable(r, 'markdown')}`;
  s += `\nEnd to end on ${name}: \`moe-router route FILE --out /dev/null\`, spawn to exit, beside \`wc -l\`:\n\n${endToEndTable(r.endToEnd.filter((e) => e.corpus === name), 'markdown')}`;
  s += `\nPer batch size on ${name} (\`routeBatch\`):\n\n${pivotTable(r.batches.filter((p) => p.corpus === name), 'markdown')}`;
  return s;
}
