/**
 * Routes a sequence of packed batches in order, reading the next batch while
 * the previous one is on the GPU, with at most `inFlight` batches read ahead
 * (memory stays bounded). If the GPU device is lost, the batch that failed
 * and every later one are routed on the CPU (same bits), with one warning.
 */
import { DeviceLostError } from '../errors.js';
import type { PackedBatch } from '../model/packed-batch.js';
import type { Backend, BatchRouting, SwitchedMoE } from '../router/switched-moe.js';

export interface PipelineOptions {
  backend?: Backend;
  /** Batches routed or waiting ahead of the consumer (default 2). */
  inFlight?: number;
  onWarning?: (message: string) => void;
  /** Also return each record's statistics (routeBatch includeStats), e.g. for route --explain. */
  includeStats?: boolean;
  /** Test hook: called after each GPU batch with the number of GPU batches done. */
  afterGpuBatch?: (done: number) => Promise<void> | void;
}

export interface PipelineState {
  /** Batches routed on the CPU because the device was lost. */
  cpuFallbackBatches: number;
  deviceLost: boolean;
}

export async function* routePackedBatches<T extends { text: PackedBatch; count: number }>(
  moe: SwitchedMoE,
  batches: AsyncIterable<T>,
  options: PipelineOptions = {},
  state: PipelineState = { cpuFallbackBatches: 0, deviceLost: false },
): AsyncGenerator<{ batch: T; routing: BatchRouting | null }> {
  const inFlight = Math.max(1, options.inFlight ?? 2);
  let gpuBatches = 0;
  const stats = options.includeStats ? { includeStats: true } : {};
  const routeOne = async (batch: T): Promise<BatchRouting | null> => {
    if (batch.count === 0) return null;
    if (state.deviceLost) {
      state.cpuFallbackBatches++;
      return moe.routeBatch(batch.text, { backend: 'cpu', ...stats });
    }
    try {
      const r = await moe.routeBatch(batch.text, { ...(options.backend ? { backend: options.backend } : {}), ...stats });
      if (r.backend === 'gpu' && options.afterGpuBatch) await options.afterGpuBatch(++gpuBatches);
      return r;
    } catch (err) {
      if (!(err instanceof DeviceLostError)) throw err;
      state.deviceLost = true;
      options.onWarning?.(`${err.message}; this batch and all later ones are routed on the CPU (identical results)`);
      state.cpuFallbackBatches++;
      return moe.routeBatch(batch.text, { backend: 'cpu', ...stats });
    }
  };
  // GPU work is serialised (one batch on the device at a time); reading overlaps it.
  let chain: Promise<unknown> = Promise.resolve();
  const queue: { batch: T; routing: Promise<BatchRouting | null> }[] = [];
  const start = (batch: T): Promise<BatchRouting | null> => {
    const p = chain.then(() => routeOne(batch));
    chain = p.catch(() => undefined);
    p.catch(() => undefined); // awaited (and thrown) in order below
    return p;
  };
  for await (const batch of batches) {
    queue.push({ batch, routing: start(batch) });
    while (queue.length >= inFlight) {
      const job = queue.shift() as { batch: T; routing: Promise<BatchRouting | null> };
      yield { batch: job.batch, routing: await job.routing };
    }
  }
  while (queue.length > 0) {
    const job = queue.shift() as { batch: T; routing: Promise<BatchRouting | null> };
    yield { batch: job.batch, routing: await job.routing };
  }
}
