/** The estimated-cost lines of the end-of-run summary (route and merge-stats), when the config names models. */
import type { CostStats } from '../job/cost-stats.js';

/** Enough digits for small per-record prices, no float noise (the exact values are in --stats). */
export function formatCost(x: number): string {
  if (x === 0) return '0';
  if (x >= 1000) return x.toFixed(2);
  return String(Number(x.toPrecision(6)));
}

export function costSummaryLines(c: CostStats): string[] {
  const rows = c.models.map((m, e) => [String(e), m.model, String(c.records[e]), String(c.chars[e]), formatCost(c.perExpert[e])]);
  const head = ['expert', 'model', 'records', 'chars', 'est. cost'];
  const total = ['total', '', String(c.records.reduce((a, b) => a + b, 0)), String(c.chars.reduce((a, b) => a + b, 0)), formatCost(c.total)];
  const all = [head, ...rows, total];
  const width = head.map((_, k) => Math.max(...all.map((r) => r[k].length)));
  const fmt = (r: string[]): string => r.map((v, k) => (k === 1 ? v.padEnd(width[k]) : v.padStart(width[k]))).join('  ');
  return [
    `  cost      estimated from each expert's price per record and per 1,000 characters (code points)`,
    ...all.map((r) => `    ${fmt(r)}`.trimEnd()),
  ];
}
