/**
 * Puts freshly measured tables into the README's Performance section, between
 * its markers, so the README's figures are always a benchmark's output:
 *
 *   BENCH_OUT=bench/results/NAME npm run bench
 *   npm run bench:targets -- --markdown > bench/results/NAME/targets.md
 *   node --import tsx bench/update-readme.ts bench/results/NAME/readme.md [bench/results/NAME/targets.md]
 *
 * The first file may also be a report JSON (moe-router bench --json, or BENCH_OUT's bench.json).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { readmeReport } from '../src/bench/report.js';
import type { BenchReport } from '../src/bench/suite.js';

function splice(text: string, marker: string, body: string): string {
  const begin = `<!-- ${marker}:begin -->`;
  const end = `<!-- ${marker}:end -->`;
  const a = text.indexOf(begin);
  const b = text.indexOf(end);
  if (a < 0 || b < a) throw new Error(`README.md has no ${begin} ... ${end} markers`);
  return `${text.slice(0, a + begin.length)}\n${body.trim()}\n${text.slice(b)}`;
}

const [benchMd, targetsMd] = process.argv.slice(2);
if (!benchMd) {
  process.stderr.write('usage: node --import tsx bench/update-readme.ts DIR/readme.md [targets.md]\n');
  process.exit(2);
}
const path = new URL('../README.md', import.meta.url);
const bench = benchMd.endsWith('.json') ? readmeReport(JSON.parse(readFileSync(benchMd, 'utf8')) as BenchReport) : readFileSync(benchMd, 'utf8');
let readme = splice(readFileSync(path, 'utf8'), 'bench', bench);
if (targetsMd) readme = splice(readme, 'targets', readFileSync(targetsMd, 'utf8'));
writeFileSync(path, readme);
process.stderr.write('README.md updated\n');
