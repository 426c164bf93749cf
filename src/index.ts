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
export { GPU_BACKENDS, GPU_BACKEND_ENV, GPU_ADAPTER_ENV, type GpuOptions, type GpuBackendName, type GpuPowerPreference } from './backends/gpu/gpu-options.js';
export type { PlanLimits } from './backends/gpu/batch-plan.js';
export * from './errors.js';
export { createRouteStream, routeRecords, RouteStream, type RoutedRecord, type RouteStreamOptions, type RecordInput } from './job/route-stream.js';
export { routePackedBatches, type PipelineOptions, type PipelineState } from './job/batch-pipeline.js';
export { RecordReader, formatFromPath, INPUT_FORMATS, type InputFormat, type RecordBatch, type RecordError, type ReaderOptions } from './sources/record-reader.js';
export { LineSplitter, type LineSink } from './sources/line-splitter.js';
export { parseExpertModels, estimateCosts, expertCost, countChars, type ExpertModel } from './model/expert-models.js';
export { recordCauses, contributionOf, causeContribution, type RecordCauses } from './model/record-cause.js';
export { calibrateBudget, ScoreHistogram, type BudgetCalibration } from './model/budget-calibration.js';
export { CostMeter, mergeCostStats, type CostStats } from './job/cost-stats.js';
export { ComplexityDashboard, type ComplexityDashboardOptions, type DashboardBatch, type DashboardListener, type MetricKind } from './dashboard/complexity-dashboard.js';
export { startDashboardServer, type DashboardServer, type DashboardServerOptions } from './dashboard/server.js';
export { renderReport } from './dashboard/report.js';
export { SNAPSHOT_FORMAT, SNAPSHOT_VERSION, type DashboardSnapshot, type DashboardState } from './dashboard/snapshot.js';
export type { SampleRecord, SeriesPoint, LatencySummary } from './dashboard/aggregates.js';
export { packedFromArrow, type ArrowPackedBatch, type ArrowDataLike, type ArrowVectorLike } from './sources/arrow-packed.js';
