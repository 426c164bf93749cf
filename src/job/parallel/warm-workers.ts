/**
 * Chunk workers started ahead of the job. The command's entry (cli/main.ts) starts them first thing
 * for a `route` run that will most likely use them, before it loads the rest of the CLI: while the
 * main thread loads its modules and opens its files (about a tenth of a second), the workers load
 * theirs and compile their WebAssembly. This module imports nothing of the project, so that starting
 * them costs nothing up front.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

const WORKER_URL = new URL('./chunk-worker.js', import.meta.url);

/** Workers that wait for their WorkerInit; unused, they are let go with dispose(). */
export class WarmWorkers {
  private workers: Worker[] | null;
  private failure: Error | null = null;

  constructor(count: number) {
    this.workers = Array.from({ length: count }, () => new Worker(WORKER_URL));
    for (const w of this.workers) {
      // A worker that fails while waiting would be an unhandled 'error' event: kept for the job instead.
      w.once('error', (err: Error) => (this.failure ??= err));
      // Waiting workers never keep the process alive (`route --help`, a usage error): the job refs them.
      w.unref();
    }
  }

  /** How many workers wait (0 once taken or disposed). */
  get size(): number {
    return this.workers?.length ?? 0;
  }

  /** The workers, if there are `count` of them (else they are let go): the job's from now on. */
  take(count: number): Worker[] | null {
    const workers = this.workers;
    this.workers = null;
    if (this.failure) throw this.failure;
    if (!workers || workers.length !== count) {
      for (const w of workers ?? []) void w.terminate();
      return null;
    }
    for (const w of workers) w.ref();
    return workers;
  }

  async dispose(): Promise<void> {
    const workers = this.workers ?? [];
    this.workers = null;
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

let prestarted: WarmWorkers | null = null;

/** Arguments that send a run elsewhere than the workers: the GPU, Parquet output, csv/tsv, compressed or columnar input. */
const ELSEWHERE = /^(--backend=gpu|--output-format=parquet|--format=(csv|tsv|parquet|arrow))$|\.(csv|tsv|parquet|arrows?|feather|ipc|gz|gzip|zst|zstd)$/i;

/**
 * Starts the workers if `args` (the command line after `node main.js`) look like a `route` run that
 * will use them; the route command takes them with takePrestarted(). A guess: when it is wrong the
 * route command lets them go, or starts the ones it needs.
 */
export function prestartWorkers(args: readonly string[]): void {
  if (args[0] !== 'route' || process.env.MOE_ROUTER_BACKEND === 'gpu') return;
  // every option with the argument after it, as --name=value (a flag gets a meaningless pair: harmless here)
  const joined = args.map((a, i) => (a.startsWith('--') && !a.includes('=') && i + 1 < args.length ? `${a}=${args[i + 1]}` : a));
  if ([...joined, ...args].some((a) => ELSEWHERE.test(a))) return;
  const t = joined.find((a) => a.startsWith('--threads='));
  const threads = t ? Number(t.slice('--threads='.length)) : availableParallelism();
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) return;
  prestarted = new WarmWorkers(threads);
}

/** The workers prestartWorkers started, once. */
export function takePrestarted(): WarmWorkers | null {
  const w = prestarted;
  prestarted = null;
  return w;
}
