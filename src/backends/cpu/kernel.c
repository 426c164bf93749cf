/*
 * The fast CPU kernel: statistics and score fused, one pass per record, no
 * allocation. Compiled to WebAssembly (npm run build:wasm); the built
 * kernel.wasm is committed so that installing needs no compiler.
 *
 * This file holds NO model constant. The host (wasm-kernel.ts) writes the
 * complexity model's tables and layout, taken from src/model, into the
 * arrays below before the first call, and configure() checks them. Only the
 * kernel's own ABI (the P_* parameter order, which KERNEL_PARAMS in
 * kernel-tables.ts mirrors) and
 * its private packing of counters are defined here.
 *
 * Counting: one table lookup per byte, indexed by (previous byte's class,
 * byte), adds a 64-bit word holding 10 counters of 6 bits each: one per byte
 * class, one for token starts, one for transitions. The word is unpacked
 * every 63 bytes, before a counter can overflow. Distinct bytes: see seen[].
 * SIMD (-msimd128) is used only where it measured faster: summing seen[].
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

/* Built by configure(). */
static u64 pair_add[MAX_CLASSES * 256];

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

extern u8 __heap_base;
/* First free byte of linear memory: the host places its windows from here. */
EXPORT("heap_base") u32 heap_base(void) { return (u32)&__heap_base; }

/* Checks the host's tables and builds pair_add. Returns 0, or the failing P_* index + 1. */
EXPORT("configure") u32 configure(void) {
  u32 classes = params[P_CLASS_COUNT];
  if (classes < 1 || classes > MAX_CLASSES) return P_CLASS_COUNT + 1;
  if (params[P_CLASS_WHITESPACE] >= classes) return P_CLASS_WHITESPACE + 1;
  if (params[P_CLASS_CONTINUATION] >= classes) return P_CLASS_CONTINUATION + 1;
  if (params[P_VALUE_COUNT] > MAX_VALUES) return P_VALUE_COUNT + 1;
  if (params[P_FRACTION_BITS] != 16) return P_FRACTION_BITS + 1; /* the u32 steps below assume 16 */
  if (params[P_FEATURE_COUNT] > MAX_FEATURES) return P_FEATURE_COUNT + 1;
  if (params[P_WEIGHT_SUM] == 0 || params[P_WEIGHT_SUM] >= (1u << 16)) return P_WEIGHT_SUM + 1;
  {
    u64 total = 0;
    for (u32 f = 0; f < params[P_FEATURE_COUNT]; f++) total += feature_weight[f];
    if (total != params[P_WEIGHT_SUM]) return P_WEIGHT_SUM + 1;
  }
  if (params[P_BOUNDARY_COUNT] >= MAX_BOUNDARIES) return P_BOUNDARY_COUNT + 1;
  for (u32 f = 0; f < params[P_FEATURE_COUNT]; f++) {
    if (feature_num[f] >= params[P_VALUE_COUNT] || feature_den[f] >= params[P_VALUE_COUNT]) return P_VALUE_COUNT + 1;
    if (feature_cap[f] < 1 || feature_cap[f] > 0xffff) return P_FEATURE_COUNT + 1;
  }
  for (u32 b = 0; b < 256; b++) {
    if (byte_class[b] >= classes) return P_CLASS_COUNT + 1;
  }
  for (u32 p = 0; p < classes; p++) {
    for (u32 b = 0; b < 256; b++) {
      u32 c = byte_class[b];
      u32 pair = p * classes + c;
      pair_add[p * 256 + b] = (1ull << (LANE_BITS * c)) |
                              ((u64)token_start[pair] << (LANE_BITS * MAX_CLASSES)) |
                              ((u64)transition[pair] << (LANE_BITS * (MAX_CLASSES + 1)));
    }
  }
  return 0;
}

/* Counters of one record while it is being counted (possibly over several runs). */
typedef struct {
  u32 lane[LANES];
  u32 bytes;
  u32 prev; /* class of the previous byte; the whitespace class at the start of a record */
} Counts;

/*
 * Byte values present in the record being counted: one plain store per byte,
 * no dependency between bytes. finish() sums and clears the 256 flags with
 * SIMD (take_distinct). Measured against a 256-bit set updated per byte: about
 * 1.3x faster on short lines and 2x on long strings. The explicit SIMD sum costs
 * about 3 ns a record where the scalar loop cost 25 ns.
 */
static u8 seen[256] __attribute__((aligned(16)));

static inline void counts_reset(Counts *s) {
  for (int k = 0; k < LANES; k++) s->lane[k] = 0;
  s->bytes = 0;
  s->prev = params[P_CLASS_WHITESPACE];
}

/* Number of flags set in seen[], which it clears: 16 flags per lane at most, so 8-bit lanes cannot overflow. */
static inline u32 take_distinct(void) {
  v128_t *flags = (v128_t *)seen;
  v128_t sum = wasm_i8x16_splat(0);
  for (int k = 0; k < 16; k++) {
    sum = wasm_i8x16_add(sum, flags[k]);
    flags[k] = wasm_i8x16_splat(0);
  }
  v128_t wide = wasm_i32x4_extadd_pairwise_i16x8(wasm_u16x8_extadd_pairwise_u8x16(sum));
  return (u32)(wasm_i32x4_extract_lane(wide, 0) + wasm_i32x4_extract_lane(wide, 1) + wasm_i32x4_extract_lane(wide, 2) +
               wasm_i32x4_extract_lane(wide, 3));
}

static inline void count_run(Counts *s, const u8 *p, const u8 *end) {
  const u64 *add = pair_add;
  const u8 *cls = byte_class;
  u8 *present = seen;
  u32 prev = s->prev;
  s->bytes += (u32)(end - p);
  while (p < end) {
    const u8 *stop = (end - p > RUN) ? p + RUN : end;
    u64 acc = 0;
    for (; p < stop; p++) {
      u32 b = *p;
      acc += add[(prev << 8) | b];
      prev = cls[b];
      present[b] = 1;
    }
    for (int k = 0; k < LANES; k++) s->lane[k] += (u32)((acc >> (LANE_BITS * k)) & LANE_MASK);
  }
  s->prev = prev;
}

/*
 * ---- fixed point: the same steps as src/model/fixed-point.ts ----
 * Every dividend fits 32 bits (configure() checks FRACTION_BITS is 16, and
 * each caller keeps its numerator at or below its 16-bit denominator), so
 * the divisions are 32-bit (an exact f64 division measured slower).
 */

static inline u32 bit_length(u32 x) { return x == 0 ? 0 : 32 - (u32)__builtin_clz(x); }

/* floor(a / b * 2^16) for a <= b. */
static inline u32 ratio_q16(u32 a, u32 b) {
  if (b == 0) return 0;
  u32 len = bit_length(b);
  u32 shift = len > 16 ? len - 16 : 0;
  u32 as = a >> shift, bs = b >> shift;
  return (as << 16) / bs;
}

/* min(x, cap) / cap in Q16, cap < 2^16. */
static inline u32 capped_q16(u32 x, u32 cap) {
  u32 c = x < cap ? x : cap;
  return (c << 16) / cap;
}

/* min(1, a / (b * cap)) in Q16, cap < 2^16: q < cap, so q * 2^16 + ratio <= (cap - 1) * 2^16 + 2^16 fits. */
static inline u32 mean_capped_q16(u32 a, u32 b, u32 cap) {
  if (b == 0) return 0;
  u32 q = a / b;
  if (q >= cap) return 1u << 16;
  u32 r = a - q * b;
  return ((q << 16) + ratio_q16(r, b)) / cap;
}

static u32 values[MAX_VALUES];

/* Score, expert and confidence of a counted record. */
static inline void finish(const Counts *s, u32 *expert_out, u32 *score_out, u32 *conf_out) {
  const u32 *P = params;
  u32 *v = values;
  u32 cont = s->lane[P[P_CLASS_CONTINUATION]];
  u32 chars = s->bytes - cont;
  v[P[P_STAT_BYTES]] = s->bytes;
  v[P[P_STAT_CHARS]] = chars;
  for (u32 c = 0; c < P[P_CLASS_CONTINUATION]; c++) v[P[P_CLASS_STAT_OFFSET] + c] = s->lane[c];
  v[P[P_STAT_TOKENS]] = s->lane[MAX_CLASSES];
  v[P[P_STAT_TRANSITIONS]] = s->lane[MAX_CLASSES + 1];
  v[P[P_VALUE_NON_WS_CHARS]] = chars - s->lane[P[P_CLASS_WHITESPACE]];
  v[P[P_VALUE_DISTINCT_BYTES]] = take_distinct();

  /* sum(weights) * 2^16 < 2^32 (src/model WEIGHT_SCALE; configure() checks it), so the sum fits 32 bits. */
  u32 acc = 0;
  u32 nf = P[P_FEATURE_COUNT];
  for (u32 f = 0; f < nf; f++) {
    u32 num = v[feature_num[f]];
    u32 kind = feature_kind[f];
    u32 q;
    if (kind == P[P_KIND_RATIO]) {
      u32 den = v[feature_den[f]];
      q = ratio_q16(num < den ? num : den, den);
    } else if (kind == P[P_KIND_CAPPED]) {
      q = capped_q16(num, feature_cap[f]);
    } else {
      q = mean_capped_q16(num, v[feature_den[f]], feature_cap[f]);
    }
    acc += feature_weight[f] * q;
  }
  u32 score = acc / P[P_WEIGHT_SUM];

  /* Expert = boundaries at or below the score; they strictly increase, so binary search. */
  u32 n = P[P_BOUNDARY_COUNT];
  u32 lo = 0, hi = n;
  while (lo < hi) {
    u32 mid = (lo + hi) >> 1;
    if (boundaries[mid] <= score) lo = mid + 1;
    else hi = mid;
  }
  u32 e = lo;

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
    conf = span == 0 ? 0 : ratio_q16(dist < span ? dist : span, span);
  }
  *expert_out = e;
  *score_out = score;
  *conf_out = conf;
}

/*
 * Routes `count` whole records. Record i is bytes[offsets[i] - base, offsets[i + 1] - base):
 * the host copies a window of a batch's bytes and offsets here without rebasing them.
 */
EXPORT("route_window")
void route_window(const u8 *bytes, const u32 *offsets, u32 count, u32 base, u32 *experts, u32 *scores, u32 *conf) {
  Counts s;
  for (u32 i = 0; i < count; i++) {
    counts_reset(&s);
    count_run(&s, bytes + (offsets[i] - base), bytes + (offsets[i + 1] - base));
    finish(&s, experts + i, scores + i, conf + i);
  }
}

/* A record longer than a window: reset, add its runs in order, finish. */
static Counts long_record;
EXPORT("long_reset") void long_reset(void) {
  counts_reset(&long_record);
  /* A long record abandoned half way (the host threw) must not leave its bytes behind. */
  (void)take_distinct();
}
EXPORT("long_add") void long_add(const u8 *bytes, u32 length) { count_run(&long_record, bytes, bytes + length); }
EXPORT("long_finish") void long_finish(u32 *expert, u32 *score, u32 *conf) { finish(&long_record, expert, score, conf); }
