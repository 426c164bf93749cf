/** The README's numbers are the model's: its tables are checked against the code, so they cannot drift. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_FEATURES, SwitchedMoE } from '../src/index.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

function tableRows(firstHeader: string): string[][] {
  const lines = readme.split('\n');
  const start = lines.findIndex((l) => l.startsWith(`| ${firstHeader} |`));
  expect(start, `README table starting with "${firstHeader}"`).toBeGreaterThanOrEqual(0);
  const rows: string[][] = [];
  for (let i = start + 2; i < lines.length && lines[i].startsWith('|'); i++) {
    rows.push(lines[i].split('|').slice(1, -1).map((c) => c.trim()));
  }
  return rows;
}

describe('README', () => {
  it("lists every feature with the model's caps and weights", () => {
    const rows = tableRows('feature');
    expect(rows.map((r) => r[0])).toEqual(DEFAULT_FEATURES.map((f) => `\`${f.name}\``));
    for (const [i, f] of DEFAULT_FEATURES.entries()) {
      expect(rows[i][1]).toBe(f.describe);
      expect(rows[i][3]).toBe(f.kind === 0 ? '–' : String(f.cap));
      expect(Number(rows[i][4])).toBe(f.weight);
    }
  });

  it("shows the notebook's examples with the values the router computes", () => {
    const moe = new SwitchedMoE();
    const rows = tableRows('text');
    expect(rows.length).toBe(6);
    for (const [text, complexity, expert, confidence] of rows) {
      const t = text.replace(/^`|`$/g, '');
      expect(complexity).toBe(moe.computeComplexity(t).toFixed(4));
      expect(Number(expert)).toBe(moe.route(t));
      expect(confidence).toBe(moe.confidence(t).toFixed(4));
    }
  });
});
