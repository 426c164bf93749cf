/**
 * CPU reference of the scoring pass (shaders/score.wgsl): statistics ->
 * score, expert and confidence, all integers.
 */
import {
  STATS_STRIDE,
  VALUE_COUNT,
  confidenceQ16,
  deriveValues,
  expertOf,
  scoreQ16,
} from '../../model/complexity-model.js';
import type { RouterConfig } from '../../model/router-config.js';

/** Per-string routing results in their exact integer form. */
export interface FixedRouting {
  experts: Uint32Array;
  /** Score in Q16: the float score is scoreQ16 / 65536. */
  scoresQ16: Uint32Array;
  /** Confidence in Q16. */
  confidenceQ16: Uint32Array;
}

export function scoreStatistics(config: RouterConfig, stats: Uint32Array, count: number): FixedRouting {
  const experts = new Uint32Array(count);
  const scores = new Uint32Array(count);
  const confidence = new Uint32Array(count);
  const values = new Uint32Array(VALUE_COUNT);
  for (let s = 0; s < count; s++) {
    deriveValues(stats, s * STATS_STRIDE, values);
    const score = scoreQ16(config.model, values);
    const expert = expertOf(score, config.boundariesQ16);
    scores[s] = score;
    experts[s] = expert;
    confidence[s] = confidenceQ16(score, expert, config.boundariesQ16);
  }
  return { experts, scoresQ16: scores, confidenceQ16: confidence };
}
