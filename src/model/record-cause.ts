/**
 * The cause of a routing decision: the feature that contributed most to a
 * record's score, as LiteLLM logs a reason per decision.
 *
 * Exact and integer: feature i contributes w_i x f_i to the score's numerator
 * (w_i its integer weight, f_i its Q16 value; below 2^30, exact in a double),
 * the cause is the feature with the largest product, the earlier one in
 * FEATURE_NAMES order on a tie. Its contribution as a number is that product
 * over weightSum x 65536, rounded once (contributionOf), the same number
 * SwitchedMoE.explain reports, so the ranking of the floats and of the
 * integers agree.
 */
import { ONE } from './fixed-point.js';
import { STATS_STRIDE, VALUE_COUNT, deriveValues, featureQ16, type CompiledModel } from './complexity-model.js';

/** w x f / (weightSum x ONE) as a double: one correctly rounded division of two exact integers. */
export function contributionOf(model: CompiledModel, feature: number, valueQ16: number): number {
  return (model.weightsInt[feature] * valueQ16) / (model.weightSum * ONE);
}

export interface RecordCauses {
  /** Per record: index of the top feature in model.features. */
  feature: Uint8Array;
  /** Per record: w x f of the top feature (an integer below 2^30). */
  product: Uint32Array;
}

/** The top feature of each of `count` records from their statistics records (STATS_STRIDE u32 each). */
export function recordCauses(model: CompiledModel, stats: Uint32Array, count: number): RecordCauses {
  const feature = new Uint8Array(count);
  const product = new Uint32Array(count);
  const values = new Uint32Array(VALUE_COUNT);
  const { features, weightsInt } = model;
  for (let r = 0; r < count; r++) {
    deriveValues(stats, r * STATS_STRIDE, values);
    let best = 0;
    let bestProduct = -1;
    for (let i = 0; i < features.length; i++) {
      const p = weightsInt[i] * featureQ16(features[i], values);
      if (p > bestProduct) {
        best = i;
        bestProduct = p;
      }
    }
    feature[r] = best;
    product[r] = bestProduct;
  }
  return { feature, product };
}

/** The contribution of a record's cause as a number in [0, 1]. */
export function causeContribution(model: CompiledModel, product: number): number {
  return product / (model.weightSum * ONE);
}
