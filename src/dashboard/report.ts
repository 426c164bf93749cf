/**
 * The offline report: one self-contained HTML file (chart library, CSS and
 * data inlined) that opens from disk with no network. The summary is also
 * written as plain escaped HTML, readable without JavaScript. The data sits in
 * a <script type="application/json"> block with <, U+2028 and U+2029 escaped,
 * and a Content-Security-Policy allows only the report's own scripts and
 * styles, by hash.
 */
import { createHash } from 'node:crypto';
import { fillTemplate, pageAssets } from './assets.js';
import type { SampleRecord } from './aggregates.js';
import type { DashboardSnapshot } from './snapshot.js';

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

/** JSON that cannot end its <script> element or break a line in old parsers. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

function sha256(s: string): string {
  return `'sha256-${createHash('sha256').update(s, 'utf8').digest('base64')}'`;
}

function inlineScript(code: string): string {
  // an inlined library must not hold its own end tag: that would end the element early
  if (/<\/script/i.test(code) || /<!--/.test(code)) throw new Error('an inlined script holds "</script" or "<!--"');
  return code;
}

const q = (n: number): string => (n / 65536).toFixed(4);
const int = (n: number): string => Math.round(n).toLocaleString('en-US');

function row(cells: readonly string[], attrs = ''): string {
  return `<tr${attrs}>${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`;
}

function recordsTable(title: string, id: string, records: readonly SampleRecord[]): string {
  const body = records.map((r) => row([String(r.index), q(r.scoreQ16), String(r.expert), q(r.confidenceQ16), `<span class="text">${escapeHtml(r.text)}</span>`])).join('');
  return `<section class="panel" id="${id}"><h2>${title}</h2><div class="scroll"><table><thead><tr><th>index</th><th>complexity</th><th>expert</th><th>confidence</th><th>text</th></tr></thead><tbody>${body}</tbody></table></div></section>`;
}

/** The run's figures as plain HTML: what a reader without JavaScript sees. */
export function summaryHtml(s: DashboardSnapshot): string {
  const t = s.totals;
  const r = s.run;
  const routed = s.perExpert.reduce((a, b) => a + b, 0);
  const n = s.config.numExperts;
  const bq = s.config.boundariesQ16;
  const secs = r.elapsedMs / 1000;
  const facts: [string, string, string][] = [
    ['input', 'input', escapeHtml(`${r.input} (${r.format})${r.parts > 1 ? `, ${r.parts} parts` : ''}`)],
    ['records in', 'recordsIn', int(t.recordsIn)],
    ['records out', 'recordsOut', int(t.recordsOut)],
    ['routed', 'routed', int(routed)],
    ['errors', 'errors', int(t.errors)],
    ['bytes', 'bytes', int(t.bytes)],
    ['time', 'seconds', `${secs.toFixed(2)} s, ${secs > 0 ? (t.bytes / 1e6 / secs).toFixed(2) : '0.00'} MB/s, ${secs > 0 ? int(t.recordsOut / secs) : '0'} records/s`],
    ['backend', 'backend', escapeHtml(`${r.backend}: ${r.adapter}`)],
    ['CPU fallback batches', 'fallbacks', int(t.fallbackBatches)],
    ['complete', 'complete', r.complete === false ? 'no: a bad record stopped the run' : 'yes'],
    ['batch latency', 'latency', s.latency.count > 0 ? `p50 ${s.latency.p50.toFixed(2)} ms, p90 ${s.latency.p90.toFixed(2)} ms, p99 ${s.latency.p99.toFixed(2)} ms, max ${s.latency.max.toFixed(2)} ms` : '–'],
  ];
  const factRows = facts.map(([k, key, v]) => `<tr data-key="${key}"><th>${k}</th><td>${v}</td></tr>`).join('');
  const expertRows = s.perExpert
    .map((c, e) => {
      const share = routed > 0 ? c / routed : 0;
      const range = `[${q(e === 0 ? 0 : bq[e - 1])}, ${e === n - 1 ? '1]' : `${q(bq[e])})`}`;
      return row([String(e), range, `<span class="count">${int(c)}</span>`, `${(100 * share).toFixed(1)}%`, (share * n).toFixed(2), escapeHtml(s.config.expertDescriptions[e] ?? '')], ` data-expert="${e}" data-count="${c}"`);
    })
    .join('');
  const config = `experts ${n}; boundaries ${s.config.boundaries.map((b) => String(b)).join(', ') || '(none)'} (Q16: ${bq.join(', ') || '–'})`;
  return (
    `<div class="summary" id="summary">` +
    `<section class="panel"><h2>Run</h2><table id="summary-facts">${factRows}</table></section>` +
    `<section class="panel"><h2>Configuration</h2><p id="summary-config">${escapeHtml(config)}</p>` +
    `<table id="summary-experts"><thead><tr><th>expert</th><th>range</th><th>records</th><th>share</th><th>share × N</th><th>description</th></tr></thead><tbody>${expertRows}</tbody></table>` +
    (s.histogram.unbinned > 0 ? `<p class="hint">${int(s.histogram.unbinned)} records come from --stats files: counted per expert, not in the histogram or the sample.</p>` : '') +
    `</section>` +
    recordsTable('Most complex records', 'summary-most', s.extremes.most) +
    recordsTable('Least complex records', 'summary-least', s.extremes.least) +
    `</div>`
  );
}

export function renderReport(snapshot: DashboardSnapshot): string {
  const a = pageAssets();
  const scripts = [inlineScript(a.uplotJs), inlineScript(a.appJs)];
  const styles = [a.uplotCss, a.styleCss];
  const csp = [
    "default-src 'none'",
    `script-src ${scripts.map(sha256).join(' ')}`,
    `style-src ${styles.map(sha256).join(' ')}`,
    'img-src data:',
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
  return fillTemplate(a.template, {
    head: `<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp)}"><link rel="icon" href="data:,">${styles.map((c) => `<style>${c}</style>`).join('')}`,
    summary: summaryHtml(snapshot),
    data: `<script type="application/json" id="moe-data">${jsonForScript(snapshot)}</script>`,
    scripts: scripts.map((c) => `<script>${c}</script>`).join(''),
  });
}
