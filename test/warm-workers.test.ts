/**
 * The command's entry starts the chunk workers before it loads the CLI, for
 * a `route` run that will most likely use them; everything else gets none.
 */
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { prestartWorkers, takePrestarted } from '../src/job/parallel/warm-workers.js';

/** How many workers prestartWorkers started for `args` (null: none); they are let go at once. */
async function started(args: string[]): Promise<number | null> {
  prestartWorkers(args);
  const warm = takePrestarted();
  if (!warm) return null;
  const n = warm.size;
  await warm.dispose();
  return n;
}

describe('prestartWorkers', () => {
  it('starts the workers for a lines or jsonl route on the CPU, as many as --threads says', async () => {
    expect(await started(['route', 'corpus.txt', '--out', 'o.jsonl'])).toBe(availableParallelism());
    expect(await started(['route', 'corpus.jsonl', '--threads', '3'])).toBe(3);
    expect(await started(['route', '-', '--threads=2', '--backend', 'cpu'])).toBe(2);
  });

  it('starts none for other commands, the GPU, Parquet output, csv/tsv, compressed or columnar input', async () => {
    for (const args of [
      ['calibrate', 'corpus.txt'],
      ['route', 'corpus.txt', '--backend', 'gpu'],
      ['route', 'corpus.txt', '--backend=gpu'],
      ['route', 'corpus.txt', '--output-format', 'parquet', '--out', 'o.parquet'],
      ['route', 'data.csv'],
      ['route', '-', '--format', 'tsv'],
      ['route', 'data', '--format=arrow'],
      ['route', 'corpus.txt.gz'],
      ['route', 'rows.parquet'],
      ['route', 'corpus.txt', '--threads', 'lots'],
    ]) {
      expect(await started(args), args.join(' ')).toBeNull();
    }
  });
});
