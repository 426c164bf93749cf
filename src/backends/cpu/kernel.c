/*
 * The fast CPU kernel: statistics and score fused, one pass over each
 * record's bytes, no allocation. Compiled to WebAssembly (npm run
 * build:wasm); the built kernel.wasm is committed so that installing needs no
 * compiler.
 *
 * This file holds NO model constant. The host (wasm-kernel.ts) writes the
 * complexity model's tables and layout, taken from src/model, into the
 * arrays below before the first call, and configure() checks them and
 * derives its own tables from them. Only the kernel's own ABI (the P_*
 * parameter order, which KERNEL_PARAMS in kernel-tables.ts mirrors) and its
 * private packing of counters are defined here.
 *
 * Counting: one table lookup per byte, indexed by (previous byte's class,
 * byte), adds a 64-bit word holding 10 counters of 6 bits each: one per byte
 * class, one for token starts, one for transitions. The word is unpacked
 * every 63 bytes, before a counter can overflow. The previous byte gives the
 * table's row directly (row_after[], a pointer: no shift, no add of the
 * class), which measured 12% faster on short lines than the class. Distinct
 * bytes: see Counts.
 *
 * Scoring: 64 records are counted, then scored four to a vector (see
 * score_lanes).
 *
 * SIMD (-msimd128) is used only where it measured faster: summing seen[],
 * scoring four records at a time.
 */
#include <wasm_simd128.h>

typedef unsigned char u8;
typedef unsigned int u32;
typedef unsigned long long u64;

#define EXPORT(name) __attribute__((export_name(name)))

/* Parameter order of params[]: the ABI shared with KERNEL_PARAMS in kernel-tables.ts. */
enum {
  P_CLASS_COUNT,
  P_CLASS_WHITESPACE,
  P_CLASS_CONTINUATION,
  P_STAT_BYTES,
  P_STAT_CHARS,
  P_CLASS_STAT_OFFSET,
  P_STAT_TOKENS,
  P_STAT_TRANSITIONS,
  P_VALUE_NON_WS_CHARS,
  P_VALUE_DISTINCT_BYTES,
  P_VALUE_COUNT,
  P_KIND_RATIO,
  P_KIND_CAPPED,
  P_KIND_MEAN_CAPPED,
  P_FRACTION_BITS,
  P_FEATURE_COUNT,
  P_WEIGHT_SUM,
  P_BOUNDARY_COUNT,
  P_COUNT
};

#define LANE_BITS 6
#define LANE_MASK ((1ull << LANE_BITS) - 1)
#define LANES 10                       /* classes + token starts + transitions */
#define MAX_CLASSES (LANES - 2)
#define RUN ((int)LANE_MASK)           /* bytes added before a lane can overflow */
#define MAX_FEATURES 32
#define MAX_BOUNDARIES 1024
#define MAX_VALUES 64

/* Written by the host. */
static u32 params[P_COUNT];
static u8 byte_class[256];
/* Per (previous class * class count + class): 1 when the byte starts a token / makes a transition. */
static u8 token_start[MAX_CLASSES * MAX_CLASSES];
static u8 transition[MAX_CLASSES * MAX_CLASSES];
static u32 feature_kind[MAX_FEATURES];
static u32 feature_num[MAX_FEATURES];
static u32 feature_den[MAX_FEATURES];
static u32 feature_cap[MAX_FEATURES];
static u32 feature_weight[MAX_FEATURES];
static u32 boundaries[MAX_BOUNDARIES];

EXPORT("params_ptr") u32 params_ptr(void) { return (u32)params; }
EXPORT("param_count") u32 param_count(void) { return P_COUNT; }
EXPORT("byte_class_ptr") u32 byte_class_ptr(void) { return (u32)byte_class; }
EXPORT("token_start_ptr") u32 token_start_ptr(void) { return (u32)token_start; }
EXPORT("transition_ptr") u32 transition_ptr(void) { return (u32)transition; }
EXPORT("feature_kind_ptr") u32 feature_kind_ptr(void) { return (u32)feature_kind; }
EXPORT("feature_num_ptr") u32 feature_num_ptr(void) { return (u32)feature_num; }
EXPORT("feature_den_ptr") u32 feature_den_ptr(void) { return (u32)feature_den; }
EXPORT("feature_cap_ptr") u32 feature_cap_ptr(void) { return (u32)feature_cap; }
EXPORT("feature_weight_ptr") u32 feature_weight_ptr(void) { return (u32)feature_weight; }
EXPORT("boundaries_ptr") u32 boundaries_ptr(void) { return (u32)boundaries; }
EXPORT("max_classes") u32 max_classes(void) { return MAX_CLASSES; }
EXPORT("max_features") u32 max_features(void) { return MAX_FEATURES; }
EXPORT("max_boundaries") u32 max_boundaries(void) { return MAX_BOUNDARIES; }
EXPORT("max_values") u32 max_values(void) { return MAX_VALUES; }

extern u8 __global_base, __heap_base;
/*
 * The memory is the host's (imported): this module's data starts at its own base (npm run
 * build:wasm gives each module a different one) and its stack follows, so that the three modules
 * can share one memory (src/wasm/shared-memory.ts). heap_base is the first byte past both: the host
 * places its windows from there.
 */
EXPORT("global_base") u32 global_base(void) { return (u32)&__global_base; }
EXPORT("heap_base") u32 heap_base(void) { return (u32)&__heap_base; }

/* ---- built by configure() from the host's tables ---- */

static u64 pair_add[MAX_CLASSES * 256];
/* Per byte value: the row of pair_add for the byte after it, pair_add + its class * 256. */
static const u64 *row_after[256];

/*
 * Slots of a counted record (a column of block[], or long_slots[]): the
 * lanes, then the bytes, then what the scoring derives. value_slot[] maps each
 * of the model's value indices to its slot; one the kernel does not produce
 * reads SLOT_ZERO.
 */
enum { SLOT_BYTES = LANES, SLOT_CHARS, SLOT_NON_WS_CHARS, SLOT_DISTINCT, SLOT_ZERO, SLOTS };
static u32 value_slot[MAX_VALUES];

/*
 * The features as the scoring evaluates them, sorted by configure(): the score
 * is a sum of non-negative terms below 2^32, so their order does not change
 * it, and a feature of weight 0 adds nothing. Ratios that share a
 * denominator (five of the default model's six divide by the characters)
 * share its shift and reciprocal. num and den are slots.
 */
typedef struct {
  u32 den;
  u32 terms; /* ratio_terms that follow in order */
} RatioGroup;
typedef struct {
  u32 num, weight;
} RatioTerm;
typedef struct {
  u64 cap_recip; /* recip[cap] */
  u32 num, den, cap, weight;
} CappedTerm;
static RatioGroup ratio_groups[MAX_FEATURES];
static RatioTerm ratio_terms[MAX_FEATURES];
static CappedTerm capped_terms[MAX_FEATURES];
static CappedTerm mean_terms[MAX_FEATURES];
static u32 ratio_group_count, capped_count, mean_count;
static u64 weight_sum_recip;

/*
 * Per score (0 .. 2^16: every feature is at most 2^16, so their weighted
 * mean is too), expert | confidence << EXPERT_BITS: a table of 256 KiB
 * replaces each record's binary search and confidence ratio by one load
 * (measured 4% faster on short lines). Filling it takes 0.2 ms a
 * configuration.
 */
#define SCORES ((1u << 16) + 1)
#define EXPERT_BITS 10
#define EXPERT_MASK ((1u << EXPERT_BITS) - 1)
_Static_assert(MAX_BOUNDARIES <= (1u << EXPERT_BITS), "an expert index fits EXPERT_BITS");
static u32 outcome[SCORES];

/*
 * ---- division by multiplication (Granlund-Montgomery) ----
 * With m = ceil(2^48 / d) = (2^48 + e) / d, 0 <= e < d, and x < 2^32:
 * x * m / 2^48 = x / d + x * e / (d * 2^48), and x * e < 2^48, so the error
 * term is below 1/d while the fraction of x / d is at most (d - 1) / d:
 * floor(x * m / 2^48) = floor(x / d) for every d < 2^16: the ratios, the
 * caps and the weight sum are of that shape. recip[] is the same for every model (512 KiB,
 * of which short records touch the first few hundred entries); recip[0] is 0,
 * which makes a division by 0 give 0, as the model's ratios do.
 */
#define RECIPROCALS (1u << 16)
static u64 recip[RECIPROCALS];

static void build_reciprocals(void) {
  if (recip[1] != 0) return;
  for (u32 d = 1; d < RECIPROCALS; d++) recip[d] = ((1ull << 48) + d - 1) / d;
}

/* floor(a * 2^16 / d) for a < 2^16, given m = recip[d]: a * m < 2^16 * 2^48 fits 64 bits. */
static inline u32 div_q16(u32 a, u64 m) { return (u32)(((u64)a * m) >> 32); }

/* floor(x / d) for x < 2^32, given m = recip[d]: the 80-bit product x * m from two 64-bit ones. */
static inline u32 div_u16(u32 x, u64 m) {
  u64 hi = (u64)x * (m >> 32); /* < 2^48 */
  u64 lo = (u64)x * (u32)m;
  return (u32)((hi + (lo >> 32)) >> 16);
}

/* For test/cpu-fast-exactness.test.ts, which checks both against plain division for every divisor. */
EXPORT("test_div_q16") u32 test_div_q16(u32 a, u32 d) {
  build_reciprocals();
  return div_q16(a, recip[d & 0xffff]);
}
EXPORT("test_div_u16") u32 test_div_u16(u32 x, u32 d) {
  build_reciprocals();
  return div_u16(x, recip[d & 0xffff]);
}

/*
 * ---- fixed point: the same steps as src/model/fixed-point.ts ----
 * Every dividend fits 32 bits (configure() checks FRACTION_BITS is 16, and
 * each caller keeps its numerator at or below its 16-bit denominator) and,
 * but in the mean, every divisor 16 bits: a multiplication by recip[].
 */

static inline u32 bit_length(u32 x) { return x == 0 ? 0 : 32 - (u32)__builtin_clz(x); }

/* Right shift that brings b below 2^16: ratio_q16's rounding, as in the model. */
static inline u32 q16_shift(u32 b) {
  u32 len = bit_length(b);
  return len > 16 ? len - 16 : 0;
}

/* floor(a / b * 2^16) for a <= b, 0 for b = 0: after the shift, as <= bs < 2^16. */
static inline u32 ratio_q16(u32 a, u32 b) {
  u32 shift = q16_shift(b);
  return div_q16(a >> shift, recip[b >> shift]);
}

/* min(x, cap) / cap in Q16, cap < 2^16. */
static inline u32 capped_q16(u32 x, const CappedTerm *t) {
  u32 c = x < t->cap ? x : t->cap;
  return div_q16(c, t->cap_recip);
}

/*
 * min(1, a / (b * cap)) in Q16, cap < 2^16, 0 for b = 0. The model's steps:
 * q = floor(a / b); ONE if q >= cap, else floor((q * 2^16 + ratio_q16(a - q * b, b)) / cap)
 * (q < cap, so q * 2^16 + ratio <= (cap - 1) * 2^16 + 2^16 < 2^32).
 * For b < 2^16 ratio_q16 does not shift, so q * 2^16 + ratio = floor(a * 2^16 / b),
 * and floor(floor(x) / cap) = floor(x / cap): the value is min(ONE, floor(a * 2^16 / (b * cap))),
 * one 64-bit division (b * cap < 2^32), which measured faster than the five multiplications.
 */
static inline u32 mean_capped_q16(u32 a, u32 b, const CappedTerm *t) {
  if (b < RECIPROCALS) {
    u32 d = b * t->cap;
    u64 q = ((u64)a << 16) / (d == 0 ? 1 : d);
    return b == 0 ? 0 : q < (1u << 16) ? (u32)q : 1u << 16;
  }
  u32 q = a / b;
  if (q >= t->cap) return 1u << 16;
  return div_u16((q << 16) + ratio_q16(a - q * b, b), t->cap_recip);
}

/* Confidence of a score in expert e's interval, the steps of src/model. */
static u32 confidence(u32 score, u32 e) {
  u32 n = params[P_BOUNDARY_COUNT];
  u32 conf;
  const u32 one = 1u << 16;
  if (n == 0) {
    conf = one;
  } else {
    u32 blo = e == 0 ? 0 : boundaries[e - 1];
    u32 bhi = e == n ? one : boundaries[e];
    u32 dist, span;
    if (e == 0) {
      dist = bhi - score;
      span = bhi;
    } else if (e == n) {
      dist = score - blo;
      span = one - blo;
    } else {
      u32 a = score - blo, b = bhi - score;
      dist = a < b ? a : b;
      span = (bhi - blo) >> 1;
    }
    conf = ratio_q16(dist < span ? dist : span, span);
  }
  return conf;
}

/* outcome[] of every score. Expert = boundaries at or below the score: they strictly increase (configure() checks it). */
static void build_outcomes(void) {
  u32 n = params[P_BOUNDARY_COUNT];
  u32 e = 0;
  for (u32 score = 0; score < SCORES; score++) {
    while (e < n && boundaries[e] <= score) e++;
    outcome[score] = e | confidence(score, e) << EXPERT_BITS;
  }
}

/* Fills value_slot[]; 0 when the host's layout has an index out of range. */
static u32 build_value_slots(void) {
  const u32 *P = params;
  u32 n = P[P_VALUE_COUNT];
  for (u32 v = 0; v < n; v++) value_slot[v] = SLOT_ZERO;
  if (P[P_STAT_BYTES] >= n || P[P_STAT_CHARS] >= n || P[P_STAT_TOKENS] >= n || P[P_STAT_TRANSITIONS] >= n ||
      P[P_VALUE_NON_WS_CHARS] >= n || P[P_VALUE_DISTINCT_BYTES] >= n || P[P_CLASS_STAT_OFFSET] + P[P_CLASS_CONTINUATION] > n) {
    return 0;
  }
  /* Classes below CONTINUATION have a value; it is BYTES - CHARS. */
  for (u32 c = 0; c < P[P_CLASS_CONTINUATION]; c++) value_slot[P[P_CLASS_STAT_OFFSET] + c] = c;
  value_slot[P[P_STAT_BYTES]] = SLOT_BYTES;
  value_slot[P[P_STAT_CHARS]] = SLOT_CHARS;
  value_slot[P[P_STAT_TOKENS]] = MAX_CLASSES;
  value_slot[P[P_STAT_TRANSITIONS]] = MAX_CLASSES + 1;
  value_slot[P[P_VALUE_NON_WS_CHARS]] = SLOT_NON_WS_CHARS;
  value_slot[P[P_VALUE_DISTINCT_BYTES]] = SLOT_DISTINCT;
  return 1;
}

/* Sorts the host's features into ratio_groups, ratio_terms, capped_terms and mean_terms. */
static void build_plan(void) {
  u32 nf = params[P_FEATURE_COUNT];
  u32 grouped = 0;
  u32 done = 0; /* bit f: feature f is placed (MAX_FEATURES is 32) */
  ratio_group_count = capped_count = mean_count = 0;
  for (u32 f = 0; f < nf; f++) {
    if (feature_weight[f] == 0 || (done >> f & 1)) continue;
    u32 kind = feature_kind[f];
    if (kind == params[P_KIND_RATIO]) {
      RatioGroup *g = &ratio_groups[ratio_group_count++];
      g->den = value_slot[feature_den[f]];
      g->terms = 0;
      for (u32 k = f; k < nf; k++) {
        if (feature_weight[k] == 0 || feature_kind[k] != kind || feature_den[k] != feature_den[f]) continue;
        ratio_terms[grouped].num = value_slot[feature_num[k]];
        ratio_terms[grouped].weight = feature_weight[k];
        grouped++;
        g->terms++;
        done |= 1u << k;
      }
    } else {
      CappedTerm *t = kind == params[P_KIND_CAPPED] ? &capped_terms[capped_count++] : &mean_terms[mean_count++];
      t->num = value_slot[feature_num[f]];
      t->den = value_slot[feature_den[f]];
      t->cap = feature_cap[f];
      t->cap_recip = recip[feature_cap[f]];
      t->weight = feature_weight[f];
    }
  }
  weight_sum_recip = recip[params[P_WEIGHT_SUM]];
}

/* Checks the host's tables and builds pair_add, recip, the plan and outcome. Returns 0, or the failing P_* index + 1. */
EXPORT("configure") u32 configure(void) {
  u32 classes = params[P_CLASS_COUNT];
  if (classes < 1 || classes > MAX_CLASSES) return P_CLASS_COUNT + 1;
  if (params[P_CLASS_WHITESPACE] >= classes) return P_CLASS_WHITESPACE + 1;
  if (params[P_CLASS_CONTINUATION] >= classes) return P_CLASS_CONTINUATION + 1;
  if (params[P_VALUE_COUNT] > MAX_VALUES) return P_VALUE_COUNT + 1;
  if (params[P_FRACTION_BITS] != 16) return P_FRACTION_BITS + 1; /* the u32 steps above assume 16 */
  if (params[P_FEATURE_COUNT] > MAX_FEATURES) return P_FEATURE_COUNT + 1;
  if (params[P_WEIGHT_SUM] == 0 || params[P_WEIGHT_SUM] >= (1u << 16)) return P_WEIGHT_SUM + 1;
  {
    u64 total = 0;
    for (u32 f = 0; f < params[P_FEATURE_COUNT]; f++) total += feature_weight[f];
    if (total != params[P_WEIGHT_SUM]) return P_WEIGHT_SUM + 1;
  }
  if (params[P_BOUNDARY_COUNT] >= MAX_BOUNDARIES) return P_BOUNDARY_COUNT + 1;
  for (u32 k = 0; k < params[P_BOUNDARY_COUNT]; k++) {
    if (boundaries[k] >= (1u << 16) || (k > 0 && boundaries[k] <= boundaries[k - 1])) return P_BOUNDARY_COUNT + 1;
  }
  for (u32 f = 0; f < params[P_FEATURE_COUNT]; f++) {
    if (feature_num[f] >= params[P_VALUE_COUNT] || feature_den[f] >= params[P_VALUE_COUNT]) return P_VALUE_COUNT + 1;
    if (feature_cap[f] < 1 || feature_cap[f] > 0xffff) return P_FEATURE_COUNT + 1;
  }
  for (u32 b = 0; b < 256; b++) {
    if (byte_class[b] >= classes) return P_CLASS_COUNT + 1;
  }
  if (!build_value_slots()) return P_VALUE_COUNT + 1;
  for (u32 p = 0; p < classes; p++) {
    for (u32 b = 0; b < 256; b++) {
      u32 c = byte_class[b];
      u32 pair = p * classes + c;
      pair_add[p * 256 + b] = (1ull << (LANE_BITS * c)) |
                              ((u64)token_start[pair] << (LANE_BITS * MAX_CLASSES)) |
                              ((u64)transition[pair] << (LANE_BITS * (MAX_CLASSES + 1)));
    }
  }
  for (u32 b = 0; b < 256; b++) row_after[b] = pair_add + byte_class[b] * 256;
  build_reciprocals();
  build_plan();
  build_outcomes();
  return 0;
}

/*
 * One record's state while it is being counted (possibly over several runs):
 * the byte values present and pair_add's row for the next byte. Its
 * counters live elsewhere: count_run() adds them to slots `stride` apart.
 *
 * seen[]: one plain store per byte, no dependency between bytes.
 * take_distinct() sums and clears the 256 flags with SIMD. Measured against a
 * 256-bit set updated per byte: about 1.3x faster on short lines and 2x on
 * long strings. The explicit SIMD sum costs about 3 ns a record where the
 * scalar loop cost 25 ns.
 */
typedef struct {
  u8 seen[256] __attribute__((aligned(16)));
  const u64 *row; /* the whitespace class's row at the start of a record */
} Counts;

static inline void counts_reset(Counts *s) { s->row = pair_add + params[P_CLASS_WHITESPACE] * 256; }

/* Number of flags set in s->seen, which it clears: 16 flags per lane at most, so 8-bit lanes cannot overflow. */
static inline u32 take_distinct(Counts *s) {
  v128_t *flags = (v128_t *)s->seen;
  v128_t sum = wasm_i8x16_splat(0);
  for (int k = 0; k < 16; k++) {
    sum = wasm_i8x16_add(sum, flags[k]);
    flags[k] = wasm_i8x16_splat(0);
  }
  v128_t wide = wasm_i32x4_extadd_pairwise_i16x8(wasm_u16x8_extadd_pairwise_u8x16(sum));
  return (u32)(wasm_i32x4_extract_lane(wide, 0) + wasm_i32x4_extract_lane(wide, 1) + wasm_i32x4_extract_lane(wide, 2) +
               wasm_i32x4_extract_lane(wide, 3));
}

/* The packed lanes of bytes [p, stop), at most RUN of them, which it marks in s->seen. */
static inline u64 count_bytes(Counts *s, const u8 *p, const u8 *stop) {
  const u64 *const *after = row_after;
  u8 *present = s->seen;
  const u64 *row = s->row;
  u64 acc = 0;
  for (; p < stop; p++) {
    u32 b = *p;
    acc += row[b];
    row = after[b];
    present[b] = 1;
  }
  s->row = row;
  return acc;
}

static inline u32 lane(u64 acc, u32 k) { return (u32)((acc >> (LANE_BITS * k)) & LANE_MASK); }

static inline const u8 *run_end(const u8 *p, const u8 *end) { return end - p > RUN ? p + RUN : end; }

/* Adds the lanes and SLOT_BYTES of bytes [p, end) to slots[k * stride]. */
static inline void count_run(Counts *s, u32 *slots, u32 stride, const u8 *p, const u8 *end) {
  slots[SLOT_BYTES * stride] += (u32)(end - p);
  for (const u8 *stop; p < end; p = stop) {
    stop = run_end(p, end);
    u64 acc = count_bytes(s, p, stop);
    for (u32 k = 0; k < LANES; k++) slots[k * stride] += lane(acc, k);
  }
}

/* Score, expert and confidence of a record from all its slots. */
static void score_slots(const u32 *x, u32 *expert_out, u32 *score_out, u32 *conf_out) {
  /* sum(weights) * 2^16 < 2^32 (src/model WEIGHT_SCALE; configure() checks it), so the sum fits 32 bits. */
  u32 acc = 0;
  const RatioTerm *t = ratio_terms;
  for (u32 g = 0; g < ratio_group_count; g++) {
    u32 den = x[ratio_groups[g].den];
    u32 shift = q16_shift(den);
    u64 m = recip[den >> shift];
    /* A handful of terms: vectorised, they measured slower. */
#pragma clang loop vectorize(disable)
    for (const RatioTerm *last = t + ratio_groups[g].terms; t < last; t++) {
      u32 num = x[t->num];
      acc += t->weight * div_q16((num < den ? num : den) >> shift, m);
    }
  }
  for (u32 k = 0; k < capped_count; k++) {
    const CappedTerm *c = &capped_terms[k];
    acc += c->weight * capped_q16(x[c->num], c);
  }
  for (u32 k = 0; k < mean_count; k++) {
    const CappedTerm *c = &mean_terms[k];
    acc += c->weight * mean_capped_q16(x[c->num], x[c->den], c);
  }
  u32 score = div_u16(acc, weight_sum_recip);
  u32 o = outcome[score];
  *expert_out = o & EXPERT_MASK;
  *score_out = score;
  *conf_out = o >> EXPERT_BITS;
}

/*
 * ---- four records to a vector ----
 * route_window counts BLOCK records into block[slot][record], then scores
 * them one record per 32-bit lane: the same steps as score_slots() for
 * records whose denominators are below 2^16 (no shift in ratio_q16, recip[]
 * covers them), which short records always are; a group with a larger one
 * goes through score_slots(). Measured 9% faster on short lines than scoring
 * each record after counting it.
 */
#define BLOCK 64
static u32 block[SLOTS][BLOCK] __attribute__((aligned(16)));

static inline v128_t column(u32 slot, u32 r) { return wasm_v128_load(&block[slot][r]); }

/*
 * div_q16 per lane, a < 2^16, m = mh * 2^32 + ml: floor(a * m / 2^32) = a * mh + floor(a * ml / 2^32),
 * a * mh < 2^32. In 32-bit lanes, from the 16-bit halves of ml: floor(a * ml / 2^32) =
 * floor((a * (ml >> 16) + floor(a * (ml & 0xffff) / 2^16)) / 2^16), whose inner sum is below
 * (2^16 - 1)^2 + 2^16 < 2^32 (measured faster than 64-bit products).
 */
static inline v128_t div_q16_x4(v128_t a, v128_t ml, v128_t mh) {
  v128_t mid = wasm_i32x4_add(wasm_i32x4_mul(a, wasm_u32x4_shr(ml, 16)),
                              wasm_u32x4_shr(wasm_i32x4_mul(a, wasm_v128_and(ml, wasm_i32x4_splat(0xffff))), 16));
  return wasm_i32x4_add(wasm_i32x4_mul(a, mh), wasm_u32x4_shr(mid, 16));
}

/* div_u16 per lane, x < 2^32, by the same m in every lane. */
static inline v128_t div_u16_x4(v128_t x, u64 m) {
  v128_t ml = wasm_i32x4_splat((u32)m), mh = wasm_i32x4_splat((u32)(m >> 32));
  v128_t lo_l = wasm_u64x2_extmul_low_u32x4(x, ml), lo_h = wasm_u64x2_extmul_high_u32x4(x, ml);
  v128_t hi_l = wasm_u64x2_extmul_low_u32x4(x, mh), hi_h = wasm_u64x2_extmul_high_u32x4(x, mh);
  v128_t t_l = wasm_u64x2_shr(wasm_i64x2_add(hi_l, wasm_u64x2_shr(lo_l, 32)), 16);
  v128_t t_h = wasm_u64x2_shr(wasm_i64x2_add(hi_h, wasm_u64x2_shr(lo_h, 32)), 16);
  return wasm_i32x4_shuffle(t_l, t_h, 0, 2, 4, 6);
}

/* recip[d] of each lane, d < 2^16, split into its low and high 32 bits. */
static inline void recip_x4(v128_t d, v128_t *ml, v128_t *mh) {
  v128_t a = wasm_v128_load64_zero(&recip[wasm_u32x4_extract_lane(d, 0)]);
  a = wasm_v128_load64_lane(&recip[wasm_u32x4_extract_lane(d, 1)], a, 1);
  v128_t b = wasm_v128_load64_zero(&recip[wasm_u32x4_extract_lane(d, 2)]);
  b = wasm_v128_load64_lane(&recip[wasm_u32x4_extract_lane(d, 3)], b, 1);
  *ml = wasm_i32x4_shuffle(a, b, 0, 2, 4, 6);
  *mh = wasm_i32x4_shuffle(a, b, 1, 3, 5, 7);
}

/*
 * floor(n * 2^16 / d) per pair of lanes, saturated at 2^16, for n, d < 2^32: n * 2^16 < 2^48 and d are
 * exact doubles, and a quotient below 2^16 that is not an integer is at least 1/d > 2^-32 from the
 * next one while the division errs by at most 2^16 * 2^-53, so truncating the double is exact.
 */
static inline v128_t q16_quotient_x2(v128_t n, v128_t d) {
  v128_t q = wasm_f64x2_div(wasm_f64x2_mul(wasm_f64x2_convert_low_u32x4(n), wasm_f64x2_splat(65536.0)),
                            wasm_f64x2_convert_low_u32x4(d));
  /* pmin(a, b) is b < a ? b : a: a 0 / 0 (NaN) gives 2^16 here; the caller zeroes it. */
  return wasm_u32x4_trunc_sat_f64x2_zero(wasm_f64x2_pmin(wasm_f64x2_splat(65536.0), q));
}

EXPORT("test_div_q16_x4") u32 test_div_q16_x4(u32 a, u32 d) {
  build_reciprocals();
  u64 m = recip[d & 0xffff];
  return wasm_u32x4_extract_lane(div_q16_x4(wasm_i32x4_splat(a), wasm_i32x4_splat((u32)m), wasm_i32x4_splat((u32)(m >> 32))), 0);
}

EXPORT("test_q16_quotient") u32 test_q16_quotient(u32 n, u32 d) {
  return wasm_u32x4_extract_lane(q16_quotient_x2(wasm_i32x4_splat(n), wasm_i32x4_splat(d)), 0);
}

/* mean_capped_q16 per lane for b < 2^16: min(ONE, floor(a * 2^16 / (b * cap))), 0 for b = 0. */
static inline v128_t mean_capped_x4(v128_t a, v128_t b, const CappedTerm *t) {
  v128_t d = wasm_i32x4_mul(b, wasm_i32x4_splat(t->cap)); /* b, cap < 2^16 */
  v128_t lo = q16_quotient_x2(a, d);
  v128_t hi = q16_quotient_x2(wasm_i32x4_shuffle(a, a, 2, 3, 0, 1), wasm_i32x4_shuffle(d, d, 2, 3, 0, 1));
  return wasm_v128_andnot(wasm_i32x4_shuffle(lo, hi, 0, 1, 4, 5), wasm_i32x4_eq(b, wasm_i32x4_splat(0)));
}

/*
 * Scores block records r .. r + valid - 1, valid <= LANES_PER_CALL (the other lanes compute garbage
 * that is not stored). QUADS vectors of four records side by side: their steps are independent, which
 * the processor overlaps (measured 4% faster with 2 than with 1).
 */
#define QUADS 2
#define LANES_PER_CALL (4 * QUADS)
static inline void score_lanes(u32 r, u32 valid, u32 *experts, u32 *scores, u32 *conf) {
  v128_t dens = wasm_i32x4_splat(0);
  for (u32 h = 0; h < QUADS; h++) {
    u32 rh = r + 4 * h;
    v128_t chars = wasm_i32x4_sub(column(SLOT_BYTES, rh), column(params[P_CLASS_CONTINUATION], rh));
    wasm_v128_store(&block[SLOT_CHARS][rh], chars);
    wasm_v128_store(&block[SLOT_NON_WS_CHARS][rh], wasm_i32x4_sub(chars, column(params[P_CLASS_WHITESPACE], rh)));
    for (u32 g = 0; g < ratio_group_count; g++) dens = wasm_v128_or(dens, column(ratio_groups[g].den, rh));
    for (u32 k = 0; k < mean_count; k++) dens = wasm_v128_or(dens, column(mean_terms[k].den, rh));
  }
  if (wasm_v128_any_true(wasm_u32x4_shr(dens, 16))) {
    for (u32 j = 0; j < valid; j++) {
      u32 x[SLOTS];
      for (u32 k = 0; k < SLOTS; k++) x[k] = block[k][r + j];
      score_slots(x, experts + j, scores + j, conf + j);
    }
    return;
  }

  v128_t acc[QUADS];
  for (u32 h = 0; h < QUADS; h++) acc[h] = wasm_i32x4_splat(0);
  const RatioTerm *t = ratio_terms;
  for (u32 g = 0; g < ratio_group_count; g++) {
    v128_t den[QUADS], ml[QUADS], mh[QUADS];
    for (u32 h = 0; h < QUADS; h++) {
      den[h] = column(ratio_groups[g].den, r + 4 * h);
      recip_x4(den[h], &ml[h], &mh[h]);
    }
    for (const RatioTerm *last = t + ratio_groups[g].terms; t < last; t++) {
      v128_t w = wasm_i32x4_splat(t->weight);
      for (u32 h = 0; h < QUADS; h++) {
        v128_t q = div_q16_x4(wasm_u32x4_min(column(t->num, r + 4 * h), den[h]), ml[h], mh[h]);
        acc[h] = wasm_i32x4_add(acc[h], wasm_i32x4_mul(q, w));
      }
    }
  }
  for (u32 k = 0; k < capped_count; k++) {
    const CappedTerm *c = &capped_terms[k];
    v128_t ml = wasm_i32x4_splat((u32)c->cap_recip), mh = wasm_i32x4_splat((u32)(c->cap_recip >> 32));
    v128_t cap = wasm_i32x4_splat(c->cap), w = wasm_i32x4_splat(c->weight);
    for (u32 h = 0; h < QUADS; h++) {
      v128_t q = div_q16_x4(wasm_u32x4_min(column(c->num, r + 4 * h), cap), ml, mh);
      acc[h] = wasm_i32x4_add(acc[h], wasm_i32x4_mul(q, w));
    }
  }
  for (u32 k = 0; k < mean_count; k++) {
    const CappedTerm *c = &mean_terms[k];
    v128_t w = wasm_i32x4_splat(c->weight);
    for (u32 h = 0; h < QUADS; h++) {
      v128_t q = mean_capped_x4(column(c->num, r + 4 * h), column(c->den, r + 4 * h), c);
      acc[h] = wasm_i32x4_add(acc[h], wasm_i32x4_mul(q, w));
    }
  }
  for (u32 h = 0; h < QUADS; h++) {
    v128_t score = div_u16_x4(acc[h], weight_sum_recip);
    u32 o4 = 4 * h;
#define LANE_OUT(j)                                          \
  if (o4 + j < valid) {                                      \
    u32 sc = wasm_u32x4_extract_lane(score, j);              \
    u32 o = outcome[sc];                                     \
    experts[o4 + j] = o & EXPERT_MASK;                       \
    scores[o4 + j] = sc;                                     \
    conf[o4 + j] = o >> EXPERT_BITS;                         \
  }
    LANE_OUT(0)
    LANE_OUT(1)
    LANE_OUT(2)
    LANE_OUT(3)
#undef LANE_OUT
  }
}

/*
 * Routes `count` whole records. Record i is bytes[offsets[i] - base, offsets[i + 1] - base):
 * the host copies a window of a batch's bytes and offsets here without rebasing them.
 */
static Counts record;
EXPORT("route_window")
void route_window(const u8 *bytes, const u32 *offsets, u32 count, u32 base, u32 *experts, u32 *scores, u32 *conf) {
  for (u32 first = 0; first < count; first += BLOCK) {
    u32 n = count - first < BLOCK ? count - first : BLOCK;
    const u32 *off = offsets + first;
    for (u32 r = 0; r < n; r++) {
      /* The first run's lanes are stored, so that the column needs no clearing. */
      const u8 *p = bytes + (off[r] - base), *end = bytes + (off[r + 1] - base), *stop = run_end(p, end);
      counts_reset(&record);
      u64 acc = count_bytes(&record, p, stop);
      for (u32 k = 0; k < LANES; k++) block[k][r] = lane(acc, k);
      block[SLOT_BYTES][r] = (u32)(stop - p);
      count_run(&record, &block[0][r], BLOCK, stop, end);
      block[SLOT_DISTINCT][r] = take_distinct(&record);
    }
    for (u32 r = 0; r < n; r += LANES_PER_CALL) {
      u32 i = first + r;
      score_lanes(r, n - r < LANES_PER_CALL ? n - r : LANES_PER_CALL, experts + i, scores + i, conf + i);
    }
  }
}

/* counts[e] += the records of expert e among experts[0, n): what a batch tells its listeners, without a JavaScript loop over every record. */
EXPORT("count_experts") void count_experts(const u32 *experts, u32 n, u32 *counts) {
  for (u32 i = 0; i < n; i++) counts[experts[i]]++;
}

/* A record longer than a window: reset, add its runs in order, finish. */
static Counts long_record;
static u32 long_slots[SLOTS];
EXPORT("long_reset") void long_reset(void) {
  counts_reset(&long_record);
  for (u32 k = 0; k < SLOTS; k++) long_slots[k] = 0;
  /* A long record abandoned half way (the host threw) must not leave its bytes behind. */
  (void)take_distinct(&long_record);
}
EXPORT("long_add") void long_add(const u8 *bytes, u32 length) { count_run(&long_record, long_slots, 1, bytes, bytes + length); }
EXPORT("long_finish") void long_finish(u32 *expert, u32 *score, u32 *conf) {
  u32 *x = long_slots;
  x[SLOT_CHARS] = x[SLOT_BYTES] - x[params[P_CLASS_CONTINUATION]];
  x[SLOT_NON_WS_CHARS] = x[SLOT_CHARS] - x[params[P_CLASS_WHITESPACE]];
  x[SLOT_DISTINCT] = take_distinct(&long_record);
  score_slots(x, expert, score, conf);
}
