/** The end-of-run summary printed on stderr. */
import type { RunStats } from '../job/run-stats.js';
import { costSummaryLines } from './cost-summary.js';

function pct(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}

function mb(bytes: number): string {
  return bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MiB` : bytes >= 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${bytes} B`;
}

export function formatSummary(s: RunStats): string {
  const lines: string[] = [];
  const same =
    s.recordsIn === s.recordsOut ? ' (in = out)' : s.complete ? ` (MISMATCH: ${s.recordsIn - s.recordsOut} not written)` : ' (the last one read is the bad record that stopped the run)';
  lines.push(`moe-router: ${s.complete ? 'routed' : 'STOPPED after'} ${s.recordsIn} records in, ${s.recordsOut} out${same}: ${s.routed} routed, ${s.errors} error${s.errors === 1 ? '' : 's'}`);
  lines.push(`  input     ${s.input} (${s.format}${s.shard ? `, shard ${s.shard.index}/${s.shard.count} bytes ${s.shard.startByte}..${s.shard.endByte}` : ''}), ${mb(s.bytes)}`);
  const width = String(Math.max(...s.perExpert, 0)).length;
  for (let e = 0; e < s.perExpert.length; e++) {
    lines.push(`  expert ${String(e).padStart(String(s.numExperts - 1).length)}  ${String(s.perExpert[e]).padStart(width)}  ${pct(s.shares[e]).padStart(6)}`);
  }
  lines.push(`  backend   ${s.backend}: ${s.adapter}${s.cpuFallbackBatches ? ` (${s.cpuFallbackBatches} batches on the CPU after device loss)` : ''}`);
  if (s.backendChoice) lines.push(`  why       ${s.backendChoice}`);
  if (s.cost) lines.push(...costSummaryLines(s.cost));
  if (s.missingParts?.length) lines.push(`  PARTIAL   ${s.missingParts.join('; ')}`);
  lines.push(`  time      ${s.seconds.toFixed(2)} s, ${s.mbPerSecond.toFixed(1)} MB/s, peak RSS ${mb(s.maxRssBytes)}`);
  return lines.join('\n') + '\n';
}

