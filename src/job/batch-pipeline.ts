/**
 * Routes a sequence of packed batches in order, reading the next batch while
 * the previous one is on the GPU, with at most `inFlight` batches read ahead
 * (memory stays bounded). If the GPU device is lost, the batch that failed
 * and every later one are routed on the CPU (same bits), with one warning.
 */
import type { PackedBatch } from '../model/packed-batch.js';
import type { BatchRouting, SwitchedMoE } from '../router/switched-moe.js';
import { routeWithFallback, type FallbackState, type RoutingPolicy } from './route-job.js';

export interface PipelineOptions extends RoutingPolicy {
  /** Batches routed or waiting ahead of the consumer (default 2). */
  inFlight?: number;
}

export type PipelineState = FallbackState;

export async function* routePackedBatches<T extends { text: PackedBatch; count: number }>(
  moe: SwitchedMoE,
  batches: AsyncIterable<T>,
  options: PipelineOptions = {},
  state: PipelineState = { cpuFallbackBatches: 0, deviceLost: false },
): AsyncGenerator<{ batch: T; routing: BatchRouting | null }> {
  const inFlight = Math.max(1, options.inFlight ?? 2);
  const route = routeWithFallback(moe, options, state);
  const routeOne = async (batch: T): Promise<BatchRouting | null> => (batch.count === 0 ? null : route(batch.text));
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
