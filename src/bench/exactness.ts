/**
 * Exactness first: every backend must give the reference's experts, scores and
 * confidences on every record of every corpus before any figure is printed.
 * In process: routeBatch on each backend. End to end: the CLI's JSONL output,
 * whose numbers are exact Q16 fractions (q / 65536 in shortest form).
 */
import { createReadStream } from 'node:fs';
import type { SwitchedMoE } from '../router/switched-moe.js';
import { corpusRecords, type BenchCorpus } from './corpora.js';
import type { InProcessBackend } from './batch-runs.js';

export interface Routed {
  experts: Uint32Array;
  scoresQ16: Uint32Array;
  confidenceQ16: Uint32Array;
}

export interface ExactnessCheck {
  corpus: string;
  /** 'cpu' (routeBatch) or a CLI run ('route --threads 2'). */
  run: string;
  records: number;
  identical: boolean;
  /** The first difference, in words. */
  difference?: string;
}

/** Batches the exactness pass routes the corpus in (any size works; this keeps memory small). */
const CHECK_BATCH_RECORDS = 65536;

export async function routeWhole(moe: SwitchedMoE, backend: InProcessBackend, corpus: BenchCorpus): Promise<Routed> {
  const n = corpusRecords(corpus);
  const out: Routed = { experts: new Uint32Array(n), scoresQ16: new Uint32Array(n), confidenceQ16: new Uint32Array(n) };
  const { bytes, offsets } = corpus.batch;
  for (let s = 0; s < n; s += CHECK_BATCH_RECORDS) {
    const count = Math.min(CHECK_BATCH_RECORDS, n - s);
    const base = offsets[s];
    const o = new Uint32Array(count + 1);
    for (let i = 0; i <= count; i++) o[i] = offsets[s + i] - base;
    const r = await moe.routeBatch({ bytes: bytes.subarray(base, offsets[s + count]), offsets: o }, { backend });
    out.experts.set(r.experts, s);
    out.scoresQ16.set(r.scoresQ16, s);
    out.confidenceQ16.set(r.confidenceQ16, s);
  }
  return out;
}

export function compareRouted(reference: Routed, got: Routed, corpus: string, run: string): ExactnessCheck {
  const n = reference.experts.length;
  if (got.experts.length !== n) return { corpus, run, records: got.experts.length, identical: false, difference: `${got.experts.length} records, the reference has ${n}` };
  for (let i = 0; i < n; i++) {
    if (got.experts[i] !== reference.experts[i] || got.scoresQ16[i] !== reference.scoresQ16[i] || got.confidenceQ16[i] !== reference.confidenceQ16[i]) {
      return {
        corpus,
        run,
        records: n,
        identical: false,
        difference:
          `record ${i}: expert ${got.experts[i]}, scoreQ16 ${got.scoresQ16[i]}, confidenceQ16 ${got.confidenceQ16[i]}; ` +
          `the reference: expert ${reference.experts[i]}, scoreQ16 ${reference.scoresQ16[i]}, confidenceQ16 ${reference.confidenceQ16[i]}`,
      };
    }
  }
  return { corpus, run, records: n, identical: true };
}

interface OutputRecord {
  index?: unknown;
  expert?: unknown;
  complexity?: unknown;
  confidence?: unknown;
  error?: unknown;
}

/**
 * Reads a `route` JSONL output and checks it record by record against the
 * reference: one output per record, in order, the same integers. When the
 * reference holds only the file's first records, the rest are only counted.
 */
export async function compareCliOutput(path: string, reference: Routed, completeReference: boolean, corpus: string, run: string): Promise<ExactnessCheck> {
  const n = reference.experts.length;
  let i = 0;
  let rest = '';
  const fail = (difference: string): ExactnessCheck => ({ corpus, run, records: i, identical: false, difference });
  const check = (line: string): string | null => {
    let r: OutputRecord;
    try {
      r = JSON.parse(line) as OutputRecord;
    } catch {
      return `output line ${i + 1} is not JSON`;
    }
    if (r.index !== i) return `output line ${i + 1} has index ${String(r.index)}, expected ${i}`;
    if (i >= n) return null;
    if (r.error !== undefined) return `record ${i}: error ${String(r.error)}`;
    const score = typeof r.complexity === 'number' ? r.complexity * 65536 : NaN;
    const conf = typeof r.confidence === 'number' ? r.confidence * 65536 : NaN;
    if (r.expert !== reference.experts[i] || score !== reference.scoresQ16[i] || conf !== reference.confidenceQ16[i]) {
      return (
        `record ${i}: expert ${String(r.expert)}, scoreQ16 ${score}, confidenceQ16 ${conf}; ` +
        `the reference: expert ${reference.experts[i]}, scoreQ16 ${reference.scoresQ16[i]}, confidenceQ16 ${reference.confidenceQ16[i]}`
      );
    }
    return null;
  };
  for await (const chunk of createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
    const text = rest + (chunk as string);
    let start = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      const problem = check(text.slice(start, nl));
      if (problem) return fail(problem);
      i++;
      start = nl + 1;
    }
    rest = text.slice(start);
  }
  if (rest !== '') return fail('the output does not end with a line end');
  if (i < n || (completeReference && i !== n)) return fail(`${i} output records for ${n} input records`);
  return { corpus, run, records: i, identical: true };
}
