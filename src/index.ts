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
export { packStrings, validatePackedBatch, type PackedBatch } from './model/packed-batch.js';
export { computeStatistics } from './backends/cpu-reference/statistics.js';
export { GPU_BACKENDS, GPU_BACKEND_ENV, GPU_ADAPTER_ENV, type GpuOptions, type GpuBackendName } from './backends/gpu/gpu-context.js';
export type { PlanLimits } from './backends/gpu/batch-plan.js';
export * from './errors.js';
export { createRouteStream, routeRecords, type RoutedRecord, type RouteStreamOptions, type RecordInput } from './job/route-stream.js';
export { routePackedBatches, type PipelineOptions, type PipelineState } from './job/batch-pipeline.js';
export { RecordReader, formatFromPath, INPUT_FORMATS, type InputFormat, type RecordBatch, type RecordError, type ReaderOptions } from './sources/record-reader.js';
export { LineSplitter, type LineSink } from './sources/line-splitter.js';
export { packedFromArrow, type ArrowPackedBatch, type ArrowDataLike, type ArrowVectorLike } from './sources/arrow-packed.js';
