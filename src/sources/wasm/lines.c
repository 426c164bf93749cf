/*
 * The `lines` packer in WebAssembly (host: wasm-lines.ts): a window of a
 * chunk is split at LF, a CR before the LF dropped, and the records packed
 * one after another into the output area, with their end offsets. The same
 * records as packLinesInPlaceJs (lines-in-place.ts), which is the JavaScript
 * twin and the fallback. Built by `npm run build:wasm`; the built lines.wasm
 * is committed so that installing needs no compiler.
 *
 * The host places the areas (input, output, offsets, too-long list) and
 * handles the rest: the BOM at file start, a window that holds no LF,
 * stretches of long lines (the JavaScript loop moves those faster than a
 * copy into the module and back) and the error records' messages.
 */
#include <wasm_simd128.h>

typedef unsigned char u8;
typedef unsigned int u32;
typedef unsigned long long u64;

#define EXPORT(name) __attribute__((export_name(name)))

#define LF 10
#define CR 13

/*
 * Loads and stores are whole 16-byte vectors: the scan reads up to 63 bytes
 * past the input, a record's copy reads and writes up to 127 bytes past its
 * end. The host leaves this much room after the input and output areas.
 */
#define SLACK 128
/* Bytes every record's copy moves, whatever its length (see put). */
#define FIXED_COPY 128
/* LF positions written per 64 input bytes whether or not there are that many (see find_lfs). */
#define FIXED_LFS 4
/* Input bytes whose LF positions are found at once: few enough that the positions stay in L1. */
#define SCAN 4096

EXPORT("slack") u32 slack(void) { return SLACK; }

extern u8 __global_base, __heap_base;
/*
 * The memory is the host's (imported): this module's data starts at its own base (npm run
 * build:wasm gives each module a different one) and its stack follows, so that the three modules
 * can share one memory (src/wasm/shared-memory.ts). heap_base is the first byte past both: the host
 * places its areas from there.
 */
EXPORT("global_base") u32 global_base(void) { return (u32)&__global_base; }
EXPORT("heap_base") u32 heap_base(void) { return (u32)&__heap_base; }

static u32 consumed;
static u32 written;
static u32 too_long_count;
/* Input bytes the last pack_window call used up: its whole lines (the whole window when final). */
EXPORT("consumed") u32 consumed_bytes(void) { return consumed; }
/* Output bytes it wrote. */
EXPORT("written") u32 written_bytes(void) { return written; }
/* Entries it wrote into the too-long list. */
EXPORT("too_long_count") u32 too_long(void) { return too_long_count; }

/* LF positions of one scan step; up to FIXED_LFS past the last are scratch. */
static u32 lf_at[SCAN + FIXED_LFS];

static inline u64 lf_mask(const u8 *p) {
  const v128_t lf = wasm_i8x16_splat(LF);
  u64 a = (u32)wasm_i8x16_bitmask(wasm_i8x16_eq(wasm_v128_load(p), lf));
  u64 b = (u32)wasm_i8x16_bitmask(wasm_i8x16_eq(wasm_v128_load(p + 16), lf));
  u64 c = (u32)wasm_i8x16_bitmask(wasm_i8x16_eq(wasm_v128_load(p + 32), lf));
  u64 d = (u32)wasm_i8x16_bitmask(wasm_i8x16_eq(wasm_v128_load(p + 48), lf));
  return a | b << 16 | c << 32 | d << 48;
}

/* Lowest set bit; any value >= 0 when m is 0 (the OR keeps ctz defined). */
static inline u32 lowest(u64 m) { return (u32)__builtin_ctzll(m | 1ull << 63); }

/*
 * The positions of the LFs in in[from, to), to - from <= SCAN, into lf_at;
 * returns their count. FIXED_LFS positions are written per 64 bytes whether
 * or not there are that many, so that the loop does not branch on each line
 * (the loop after them runs on the rare blocks of many short lines).
 */
static u32 find_lfs(const u8 *in, u32 from, u32 to) {
  u32 count = 0;
  for (u32 b = from; b < to; b += 64) {
    u64 m = lf_mask(in + b);
    if (to - b < 64) m &= (1ull << (to - b)) - 1;
    u32 c = (u32)__builtin_popcountll(m);
    u32 *p = lf_at + count;
    for (u32 k = 0; k < FIXED_LFS; k++) {
      p[k] = b + lowest(m);
      m &= m - 1;
    }
    for (u32 k = FIXED_LFS; k < c; k++) {
      p[k] = b + lowest(m);
      m &= m - 1;
    }
    count += c;
  }
  return count;
}

/*
 * Copies n bytes in whole vectors: FIXED_COPY bytes whatever n is, then 64
 * at a time. A loop on each line's length mispredicts on most lines (lines
 * of real text vary in length), a fixed copy does not, and 128 bytes hold
 * all but a few percent of short lines (measured: 64 or 256 were slower).
 * The output area is not the input area, so the bytes written past the
 * record's end are only ones the next record overwrites (or the slack).
 */
static inline u8 *put(u8 *d, const u8 *s, u32 n) {
  v128_t v[FIXED_COPY / 16];
  for (u32 k = 0; k < FIXED_COPY / 16; k++) v[k] = wasm_v128_load(s + 16 * k);
  for (u32 k = 0; k < FIXED_COPY / 16; k++) wasm_v128_store(d + 16 * k, v[k]);
  for (u32 k = FIXED_COPY; k < n; k += 64) {
    v128_t a = wasm_v128_load(s + k);
    v128_t b = wasm_v128_load(s + k + 16);
    v128_t c = wasm_v128_load(s + k + 32);
    v128_t e = wasm_v128_load(s + k + 48);
    wasm_v128_store(d + k, a);
    wasm_v128_store(d + k + 16, b);
    wasm_v128_store(d + k + 32, c);
    wasm_v128_store(d + k + 48, e);
  }
  return d + n;
}

/*
 * Packs the records of in[0, len): every line ended by LF, and when `final`
 * the rest after the last LF as the last record (without CR stripping, as
 * the twin does). A record longer than max_record bytes is not copied: it
 * becomes an empty record whose index (from 0 in this window) goes into
 * too_long[]. offsets[k] = base + the output bytes after record k. Stops
 * after max_records records. Returns the number of records.
 */
EXPORT("pack_window")
u32 pack_window(const u8 *in, u32 len, u32 final, u8 *out, u32 *offsets, u32 *too_long, u32 base, u32 max_record, u32 max_records) {
  u8 *w = out;
  u32 start = 0;
  u32 n = 0;
  u32 bad = 0;
  for (u32 from = 0; from < len && n < max_records; from += SCAN) {
    u32 to = len - from < SCAN ? len : from + SCAN;
    u32 count = find_lfs(in, from, to);
    for (u32 i = 0; i < count; i++) {
      u32 nl = lf_at[i];
      /* `&`, not `&&`: no branch; an empty line at 0 reads the byte before the input (memory: the input area is above the module's data) */
      u32 end = nl - ((in[nl - 1] == CR) & (nl > start));
      if (end - start > max_record) too_long[bad++] = n;
      else w = put(w, in + start, end - start);
      offsets[n++] = base + (u32)(w - out);
      start = nl + 1;
      if (n == max_records) break;
    }
  }
  if (final && start < len && n < max_records) {
    if (len - start > max_record) too_long[bad++] = n;
    else w = put(w, in + start, len - start);
    offsets[n++] = base + (u32)(w - out);
    start = len;
  }
  consumed = start;
  written = (u32)(w - out);
  too_long_count = bad;
  return n;
}
