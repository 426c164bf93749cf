// The notebook's monitoring loop with ComplexityDashboard: route each line of
// examples/corpus.txt, feed the three metrics, write the offline report.
//   node examples/dashboard-notebook.mjs [report.html] [--serve]
// --serve also opens the live page (127.0.0.1, URL on stderr) until Ctrl-C.
import { readFileSync, writeFileSync } from 'node:fs';
import { ComplexityDashboard, SwitchedMoE, renderReport, startDashboardServer } from 'moe-router';

const out = process.argv.find((a, i) => i > 1 && !a.startsWith('--')) ?? 'dashboard-report.html';
const texts = readFileSync(new URL('./corpus.txt', import.meta.url), 'utf8').split('\n');
if (texts.at(-1) === '') texts.pop(); // the final line end ends the last line; it does not start another

const moe = new SwitchedMoE({ numExperts: 3, complexityThreshold: 0.6 });
const dashboard = new ComplexityDashboard({ numExperts: 3 });
const server = process.argv.includes('--serve') ? await startDashboardServer(dashboard) : null;
if (server) console.error(`dashboard at ${server.url}`);

for (const text of texts) {
  const start = performance.now();
  const complexity = moe.computeComplexity(text);
  const expert = moe.route(text);
  const seconds = (performance.now() - start) / 1000;
  dashboard.updateMetrics('text', text); // optional: the sample table shows it
  dashboard.updateMetrics('text_complexity', complexity);
  dashboard.updateMetrics('expert_assignment', expert);
  dashboard.updateMetrics('processing_time', seconds);
}
dashboard.finish();

writeFileSync(out, renderReport(dashboard.snapshot()));
console.error(`wrote ${out}: ${dashboard.snapshot().perExpert.join(' / ')} records per expert`);
await moe.dispose();
