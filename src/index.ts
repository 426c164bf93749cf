export {
  SwitchedMoE,
  BACKENDS,
  BACKEND_ENV,
  CPU_ADAPTER,
  namedStatistics,
  type Backend,
  type SwitchedMoEOptions,
  type RouteBatchOptions,
  type BatchRouting,
  type BatchTimings,
  type Explanation,
  type FeatureContribution,
  type RouterMetrics,
} from './router/switched-moe.js';
export { resolveRouterConfig, defaultBoundaries, MAX_EXPERTS, type RouterOptions, type RouterConfig, type ModelOptions } from './model/router-config.js';
export {
  DEFAULT_FEATURES,
  FEATURE_NAMES,
  STAT,
  STATS_STRIDE,
  BYTE_CLASS,
  type CharacterStatistics,
  type FeatureName,
  type FeatureDefinition,
} from './model/complexity-model.js';
export { ONE as FIXED_ONE, FRACTION_BITS } from './model/fixed-point.js';
export { packStrings, validatePackedBatch, type PackedBatch } from './io/packed-batch.js';
export { computeStatistics } from './cpu/statistics.js';
export { GPU_BACKENDS, GPU_BACKEND_ENV, GPU_ADAPTER_ENV, type GpuOptions, type GpuBackendName } from './gpu/gpu-context.js';
export type { PlanLimits } from './gpu/batch-plan.js';
export * from './errors.js';
export { createRouteStream, routeRecords, type RoutedRecord, type RouteStreamOptions, type RecordInput } from './stream/route-stream.js';
export { routePackedBatches, type PipelineOptions, type PipelineState } from './stream/batch-pipeline.js';
export { RecordReader, formatFromPath, INPUT_FORMATS, type InputFormat, type RecordBatch, type RecordError, type ReaderOptions } from './io/record-reader.js';
export { LineSplitter, type LineSink } from './io/line-splitter.js';
