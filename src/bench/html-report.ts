/**
 * `moe-router bench --html FILE`: one self-contained page (inline SVG, no
 * script, no CDN). Every piece of text (corpus names come from the user's
 * file name) is escaped before it goes into the markup.
 */
import type { BatchPoint } from './batch-runs.js';
import { describeMachine, mbps } from './report.js';
import type { BenchReport } from './suite.js';

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

const COLORS: Record<string, string> = { 'cpu-reference': '#888888', cpu: '#1f77b4', gpu: '#d62728' };
const W = 560;
const H = 260;
const M = { left: 56, right: 110, top: 24, bottom: 40 };

function log10(x: number): number {
  return Math.log10(Math.max(x, 1e-9));
}

/** MB/s against batch size, both on log scales, one line per backend. */
function rateChart(title: string, points: readonly BatchPoint[]): string {
  const measured = points.filter((p) => !p.skipped && p.mbPerSecond > 0);
  if (measured.length === 0) return '';
  const xs = measured.map((p) => log10(p.batchRecords));
  const ys = measured.map((p) => log10(p.mbPerSecond));
  const [x0, x1] = [Math.min(...xs), Math.max(...xs, Math.min(...xs) + 1)];
  const [y0, y1] = [Math.floor(Math.min(...ys)), Math.ceil(Math.max(...ys, Math.min(...ys) + 0.1))];
  const px = (x: number): number => M.left + ((x - x0) / (x1 - x0)) * (W - M.left - M.right);
  const py = (y: number): number => H - M.bottom - ((y - y0) / (y1 - y0 || 1)) * (H - M.top - M.bottom);
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img"><title>${escapeHtml(title)}</title>`;
  svg += `<text x="${M.left}" y="14" font-size="12" font-weight="bold">${escapeHtml(title)}</text>`;
  for (let e = Math.ceil(x0); e <= Math.floor(x1); e++) {
    svg += `<line x1="${px(e)}" y1="${H - M.bottom}" x2="${px(e)}" y2="${M.top}" stroke="#eee"/><text x="${px(e)}" y="${H - M.bottom + 14}" font-size="10" text-anchor="middle">${escapeHtml((10 ** e).toLocaleString('en-US'))}</text>`;
  }
  for (let e = y0; e <= y1; e++) {
    svg += `<line x1="${M.left}" y1="${py(e)}" x2="${W - M.right}" y2="${py(e)}" stroke="#eee"/><text x="${M.left - 4}" y="${py(e) + 3}" font-size="10" text-anchor="end">${escapeHtml(String(10 ** e))}</text>`;
  }
  svg += `<text x="${(M.left + W - M.right) / 2}" y="${H - 6}" font-size="11" text-anchor="middle">records per batch</text>`;
  svg += `<text x="12" y="${(M.top + H - M.bottom) / 2}" font-size="11" text-anchor="middle" transform="rotate(-90 12 ${(M.top + H - M.bottom) / 2})">MB/s</text>`;
  const backends = [...new Set(measured.map((p) => p.backend))];
  backends.forEach((b, i) => {
    const line = measured.filter((p) => p.backend === b).sort((p, q) => p.batchRecords - q.batchRecords);
    const color = COLORS[b] ?? '#2ca02c';
    svg += `<polyline fill="none" stroke="${color}" stroke-width="2" points="${line.map((p) => `${px(log10(p.batchRecords)).toFixed(1)},${py(log10(p.mbPerSecond)).toFixed(1)}`).join(' ')}"/>`;
    for (const p of line) {
      svg += `<circle cx="${px(log10(p.batchRecords)).toFixed(1)}" cy="${py(log10(p.mbPerSecond)).toFixed(1)}" r="3" fill="${color}"><title>${escapeHtml(`${b}, batch ${p.batchRecords}: ${mbps(p.mbPerSecond)} MB/s, p50 ${p.p50Ms.toFixed(3)} ms, p99 ${p.p99Ms.toFixed(3)} ms`)}</title></circle>`;
    }
    svg += `<rect x="${W - M.right + 10}" y="${M.top + i * 16}" width="10" height="10" fill="${color}"/><text x="${W - M.right + 24}" y="${M.top + i * 16 + 9}" font-size="11">${escapeHtml(b)}</text>`;
  });
  return svg + '</svg>';
}

/** Horizontal bars: MB/s of each end-to-end run of one corpus. */
function endToEndChart(r: BenchReport, corpus: string): string {
  const runs = r.endToEnd.filter((e) => e.corpus === corpus);
  if (runs.length === 0) return '';
  const barH = 18;
  const labelW = 200;
  const width = 560;
  const height = 28 + runs.length * (barH + 4);
  const max = Math.max(...runs.map((e) => e.mbPerSecond), 1);
  const scale = (x: number): number => (x / max) * (width - labelW - 80);
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img"><title>end to end</title>`;
  svg += `<text x="0" y="14" font-size="12" font-weight="bold">${escapeHtml(`end to end, MB/s: ${corpus}`)}</text>`;
  runs.forEach((e, i) => {
    const y = 24 + i * (barH + 4);
    const label = e.label === 'wc -l' ? 'wc -l' : `route ${e.label}`;
    svg += `<text x="${labelW - 6}" y="${y + 13}" font-size="11" text-anchor="end">${escapeHtml(label)}</text>`;
    svg += `<rect x="${labelW}" y="${y}" width="${Math.max(1, scale(e.mbPerSecond)).toFixed(1)}" height="${barH}" fill="${e.label === 'wc -l' ? '#bbbbbb' : e.backend === 'gpu' ? COLORS.gpu : COLORS.cpu}"/>`;
    svg += `<text x="${(labelW + Math.max(1, scale(e.mbPerSecond)) + 4).toFixed(1)}" y="${y + 13}" font-size="11">${escapeHtml(mbps(e.mbPerSecond))}</text>`;
  });
  return svg + '</svg>';
}

export function htmlReport(r: BenchReport): string {
  const parts: string[] = [];
  for (const c of r.corpora) {
    parts.push(`<h2>${escapeHtml(c.name)}</h2>`);
    parts.push(`<p>${escapeHtml(`${c.records.toLocaleString('en-US')} records, ${(c.bytes / 1e6).toFixed(1)} MB, ${c.meanRecordBytes.toFixed(0)} B per record on average`)}</p>`);
    parts.push(rateChart(`routeBatch MB/s by batch size: ${c.kind}`, r.batches.filter((p) => p.corpus === c.name)));
    parts.push(endToEndChart(r, c.name));
    const win = r.gpuWins.find((w) => w.corpus === c.name);
    if (win) parts.push(`<p>${escapeHtml(win.batchRecords === null ? 'The GPU never beats the CPU on this corpus.' : `The GPU beats the CPU from batches of ${win.batchRecords.toLocaleString('en-US')} records.`)}</p>`);
  }
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8"><title>moe-router bench</title>',
    '<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:60em}svg{display:block;margin:1em 0}p.m{color:#555}</style></head><body>',
    '<h1>moe-router bench</h1>',
    `<p class="m">${escapeHtml(`${r.date}; ${describeMachine(r)}`)}</p>`,
    `<p>${escapeHtml(`Exactness verified before measuring: ${r.exactness.checks.length} comparisons, all identical.`)}</p>`,
    ...parts,
    '</body></html>',
    '',
  ].join('\n');
}
