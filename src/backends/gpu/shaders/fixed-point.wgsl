// Fixed-point helpers shared by the kernels (prepended to score.wgsl).
// Twin of src/model/fixed-point.ts: every step is the same u32 operation, so
// GPU and CPU produce identical bits. ONE and FRACTION_BITS come from the
// generated constants prelude (src/backends/gpu/shader-source.ts).

fn bit_length(x: u32) -> u32 {
  if (x == 0u) { return 0u; }
  return firstLeadingBit(x) + 1u;
}

// floor(a / b * ONE) for a <= b, b > 0 (0 when b == 0).
fn ratio_q16(a: u32, b: u32) -> u32 {
  if (b == 0u) { return 0u; }
  let bl = bit_length(b);
  var shift = 0u;
  if (bl > FRACTION_BITS) { shift = bl - FRACTION_BITS; }
  let as_ = a >> shift;
  let bs = b >> shift;
  return (as_ << FRACTION_BITS) / bs;
}

// min(x, cap) / cap in Q16, 1 <= cap < 2^16.
fn capped_q16(x: u32, cap: u32) -> u32 {
  return (min(x, cap) << FRACTION_BITS) / cap;
}

// min(1, a / (b * cap)) in Q16 without forming b * cap.
fn mean_capped_q16(a: u32, b: u32, cap: u32) -> u32 {
  if (b == 0u) { return 0u; }
  let q = a / b;
  if (q >= cap) { return ONE; }
  let r = a - q * b;
  return ((q << FRACTION_BITS) + ratio_q16(r, b)) / cap;
}
