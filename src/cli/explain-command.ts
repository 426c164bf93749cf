/** `moe-router explain TEXT...`: the score of each string and the features that produced it. */
import { SwitchedMoE, type Explanation } from '../router/switched-moe.js';
import { routerOptions, type RouterCliOptions } from './options.js';

export interface ExplainOptions extends RouterCliOptions {
  json?: boolean;
}

function num(x: number, digits = 4): string {
  return x.toFixed(digits);
}

export function formatExplanation(e: Explanation): string {
  const lines: string[] = [];
  lines.push(`text        ${JSON.stringify(e.text)}`);
  lines.push(`complexity  ${num(e.complexity)}`);
  lines.push(`expert      ${e.expert}  (${e.expertDescription})`);
  lines.push(`confidence  ${num(e.confidence)}`);
  const s = e.statistics;
  lines.push(
    `statistics  ${s.bytes} bytes, ${s.chars} chars, ${s.tokens} tokens, ${s.whitespace} whitespace, ${s.upper} upper, ${s.lower} lower, ${s.digits} digits, ${s.punctuation} punctuation, ${s.control} control, ${s.nonAscii} non-ASCII, ${s.transitions} transitions, ${s.distinctBytes} distinct bytes`,
  );
  const nameW = Math.max(7, ...e.features.map((f) => f.name.length));
  lines.push('');
  lines.push(`  ${'feature'.padEnd(nameW)}  ${'value'.padStart(6)}  ${'weight'.padStart(6)}  ${'contrib'.padStart(7)}  what it measures`);
  for (const f of e.features) {
    lines.push(
      `  ${f.name.padEnd(nameW)}  ${num(f.value).padStart(6)}  ${num(f.weight).padStart(6)}  ${num(f.contribution).padStart(7)}  ${f.describe}${f.cap !== undefined ? ` (cap ${f.cap})` : ''}`,
    );
  }
  const total = e.features.reduce((a, f) => a + f.contribution, 0);
  lines.push(`  ${'sum'.padEnd(nameW)}  ${''.padStart(6)}  ${''.padStart(6)}  ${num(total).padStart(7)}  = complexity (computed exactly in Q16 fixed point)`);
  return lines.join('\n') + '\n';
}

export async function runExplain(texts: string[], o: ExplainOptions): Promise<number> {
  const moe = new SwitchedMoE({ ...(await routerOptions(o)), backend: 'cpu' });
  try {
    const all = texts.map((t) => moe.explain(t));
    if (o.json) {
      process.stdout.write(JSON.stringify(all.length === 1 ? all[0] : all, null, 2) + '\n');
    } else {
      const m = moe.getMetrics();
      process.stdout.write(`router: ${m.numExperts} experts, boundaries ${m.boundaries.map((b) => num(b)).join(', ') || '(none)'}\n\n`);
      process.stdout.write(all.map(formatExplanation).join('\n'));
    }
    return 0;
  } finally {
    await moe.dispose();
  }
}
