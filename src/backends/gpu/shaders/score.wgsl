// Scoring pass: one invocation per string turns its statistics record into
// score, expert and confidence, all in Q16 fixed point.
// Twin of src/backends/cpu-reference/score.ts and src/model/complexity-model.ts; the feature
// table (FEATURE_*), weights and BOUNDARIES are generated constants.
//
// Bindings (group 0):
//   0: stats   storage, read        STATS_STRIDE u32 per string (see statistics.wgsl)
//   1: results storage, read_write  RESULT_WORDS (2) u32 per string, all the host reads back:
//                                  score_q16 | expert << SCORE_BITS, then confidence_q16
//                                  (layout generated from result-layout.ts)
//   2: params  uniform              x = number of strings
// Dispatch: ceil(strings / WORKGROUP_SIZE) workgroups, 2D past the per-dimension limit
// (flat_invocation_index, dispatch.wgsl).

@group(0) @binding(0) var<storage, read> stats: array<u32>;
@group(0) @binding(1) var<storage, read_write> results: array<u32>;
@group(0) @binding(2) var<uniform> params: vec4<u32>;

fn derive_values(base: u32) -> array<u32, VALUE_COUNT> {
  var v = array<u32, VALUE_COUNT>();
  for (var k = 0u; k <= STAT_TRANSITIONS; k = k + 1u) { v[k] = stats[base + k]; }
  v[VALUE_NON_WS_CHARS] = stats[base + STAT_CHARS] - stats[base + STAT_WHITESPACE];
  var distinct = 0u;
  for (var w = 0u; w < BYTE_SET_WORDS; w = w + 1u) { distinct = distinct + countOneBits(stats[base + STAT_BYTE_SET + w]); }
  v[VALUE_DISTINCT_BYTES] = distinct;
  return v;
}

fn feature_q16(f: u32, v: array<u32, VALUE_COUNT>) -> u32 {
  let num = v[FEATURE_NUM[f]];
  let kind = FEATURE_KIND[f];
  if (kind == FEATURE_KIND_RATIO) {
    let den = v[FEATURE_DEN[f]];
    return ratio_q16(min(num, den), den);
  }
  if (kind == FEATURE_KIND_CAPPED) {
    return capped_q16(num, FEATURE_CAP[f]);
  }
  return mean_capped_q16(num, v[FEATURE_DEN[f]], FEATURE_CAP[f]);
}

fn confidence_q16(score: u32, expert: u32) -> u32 {
  if (BOUNDARY_COUNT == 0u) { return ONE; }
  var lo = 0u;
  if (expert > 0u) { lo = BOUNDARIES[expert - 1u]; }
  var hi = ONE;
  if (expert < BOUNDARY_COUNT) { hi = BOUNDARIES[expert]; }
  var dist: u32;
  var span: u32;
  if (expert == 0u) {
    dist = hi - score;
    span = hi;
  } else if (expert == BOUNDARY_COUNT) {
    dist = score - lo;
    span = ONE - lo;
  } else {
    dist = min(score - lo, hi - score);
    span = (hi - lo) >> 1u;
  }
  if (span == 0u) { return 0u; }
  return ratio_q16(min(dist, span), span);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let s = flat_invocation_index(wg, nwg, lid);
  if (s >= params.x) { return; }
  let v = derive_values(s * STATS_STRIDE);
  var acc = 0u;
  for (var f = 0u; f < FEATURE_COUNT; f = f + 1u) {
    acc = acc + FEATURE_WEIGHT[f] * feature_q16(f, v);
  }
  let score = acc / WEIGHT_SUM;
  var expert = 0u;
  for (var k = 0u; k < BOUNDARY_COUNT; k = k + 1u) {
    if (score >= BOUNDARIES[k]) { expert = expert + 1u; }
  }
  results[s * RESULT_WORDS] = score | (expert << SCORE_BITS);
  results[s * RESULT_WORDS + 1u] = confidence_q16(score, expert);
}
