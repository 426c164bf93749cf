// A strict ESM consumer of the packed package (test/package-consumer.test.ts copies it to a temporary project).
import { Readable } from 'node:stream';
import {
  SwitchedMoE,
  createRouteStream,
  GpuUnavailableError,
  MoeRouterError,
  type BatchRouting,
  type GpuOptions,
  type RoutedRecord,
  type SwitchedMoEOptions,
} from 'moe-router';

const texts: string[] = ['The', 'Python', 'AI and ML', '@#$%^&*'];
const gpu: GpuOptions = { backend: 'auto', powerPreference: 'high-performance' };
const warnings: string[] = [];
const options: SwitchedMoEOptions = { numExperts: 3, complexityThreshold: 0.6, gpu, onWarning: (m: string) => warnings.push(m) };
const moe = new SwitchedMoE(options);

const cpu: BatchRouting = await moe.routeBatch(texts, { backend: 'cpu' });
const auto: BatchRouting = await moe.routeBatch(texts);
let gpuError: { name: string; code: string; message: string; isGpuUnavailable: boolean } | null = null;
try {
  await new SwitchedMoE().routeBatch(texts, { backend: 'gpu' });
} catch (err) {
  if (!(err instanceof MoeRouterError)) throw err;
  gpuError = { name: err.name, code: err.code, message: err.message, isGpuUnavailable: err instanceof GpuUnavailableError };
}
const streamed: RoutedRecord[] = [];
for await (const record of Readable.from(texts).pipe(createRouteStream(moe, { backend: 'cpu' }))) streamed.push(record as RoutedRecord);
await moe.dispose();

console.log(
  JSON.stringify({
    cpu: { backend: cpu.backend, experts: [...cpu.experts], scoresQ16: [...cpu.scoresQ16] },
    auto: { backend: auto.backend, experts: [...auto.experts] },
    warnings,
    gpuError,
    streamed: streamed.map((r) => [r.index, r.expert]),
  }),
);
