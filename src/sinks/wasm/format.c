/*
 * The output formatter in WebAssembly: routed records written as JSONL, CSV
 * or TSV bytes, the same bytes as ByteFormatter (byte-formatter.ts), which is
 * the JavaScript twin and the fallback. Built by `npm run build:wasm`; the
 * built format.wasm is committed so that installing needs no compiler.
 *
 * This file holds NO format text. The host (wasm-formatter.ts) writes the
 * literals between the fields (`{"index":`, the delimiter, ...) into the
 * arrays below. Only the escaping rules of JSON strings and CSV fields, the
 * WHATWG UTF-8 decoder's replacement of ill-formed sequences and the decimal
 * text of a Q16 number (what String(q / 65536) writes, see build_q16) are
 * written here.
 */
#include <wasm_simd128.h>

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
/* 2 or 4 bytes at any address: WebAssembly loads and stores need no alignment. */
typedef u16 u16_any __attribute__((aligned(1)));
typedef u32 u32_any __attribute__((aligned(1)));

#define EXPORT(name) __attribute__((export_name(name)))

/* The literals of a record, in the order they are written (LITERAL_NAMES in wasm-formatter.ts). */
enum { L_INDEX, L_EXPERT, L_SCORE, L_CONFIDENCE, L_TEXT_OPEN, L_TEXT_CLOSE, L_END, L_COUNT };
/* The longest literal (jsonl's `,"complexity":` is 14): each is written as one 16-byte store. */
#define LITERAL_BYTES 16
#define Q16_VALUES 65537
#define Q16_BYTES 20
/*
 * Texts are escaped TEXT_BLOCK bytes at a time (most short lines in one step): up to that many
 * bytes past a text's end are read (the host leaves TEXT_SLACK bytes after its text window) and
 * written (RECORD_ROOM counts them).
 */
#define TEXT_BLOCK 64
#define TEXT_SLACK TEXT_BLOCK
/* The fixed part of a record (literals, two integers, two Q16 strings) always fits this. */
#define RECORD_ROOM (L_COUNT * LITERAL_BYTES + 2 * 20 + 2 * Q16_BYTES + TEXT_SLACK)
/* Most bytes one input byte of text becomes (\u00XX). */
#define TEXT_EXPANSION 6

/* Text modes: TEXT_JSON escapes as JSON.stringify does; TEXT_CSV quotes the field when needed, doubling quotes. */
enum { TEXT_NONE, TEXT_JSON, TEXT_CSV };

/* Written by the host. */
static u8 literal[L_COUNT][LITERAL_BYTES] __attribute__((aligned(16)));
static u32 literal_length[L_COUNT];
static u8 q16_text[Q16_VALUES][Q16_BYTES];
static u8 q16_length[Q16_VALUES];
static u32 text_mode;
static u32 delimiter;

EXPORT("literal_ptr") u32 literal_ptr(void) { return (u32)literal; }
EXPORT("literal_length_ptr") u32 literal_length_ptr(void) { return (u32)literal_length; }
EXPORT("literal_count") u32 literal_count(void) { return L_COUNT; }
EXPORT("literal_bytes") u32 literal_bytes(void) { return LITERAL_BYTES; }
EXPORT("q16_text_ptr") u32 q16_text_ptr(void) { return (u32)q16_text; }
EXPORT("q16_length_ptr") u32 q16_length_ptr(void) { return (u32)q16_length; }
EXPORT("q16_bytes") u32 q16_bytes(void) { return Q16_BYTES; }
EXPORT("record_room") u32 record_room(void) { return RECORD_ROOM; }
EXPORT("text_expansion") u32 text_expansion(void) { return TEXT_EXPANSION; }
EXPORT("text_slack") u32 text_slack(void) { return TEXT_SLACK; }
EXPORT("set_mode") void set_mode(u32 mode, u32 delim) {
  text_mode = mode;
  delimiter = delim;
}

extern u8 __global_base, __heap_base;
/*
 * The memory is the host's (imported): this module's data starts at its own base (npm run
 * build:wasm gives each module a different one) and its stack follows, so that the three modules
 * can share one memory (src/wasm/shared-memory.ts). heap_base is the first byte past both: the host
 * places its windows from there.
 */
EXPORT("global_base") u32 global_base(void) { return (u32)&__global_base; }
EXPORT("heap_base") u32 heap_base(void) { return (u32)&__heap_base; }

/* Bytes written by the last format_window call. */
static u32 written;
EXPORT("written") u32 written_bytes(void) { return written; }


/*
 * q16_text[q] = String(q / 65536) for every q, as JavaScript writes it: "0", "1", else "0." and
 * q / 2^16 = q * 5^16 / 10^16 written out in its 16 decimals, trailing zeros dropped. That exact
 * expansion is, for every q, also the shortest decimal that reads back as the same double, which is
 * what String() writes (test/byte-formatter.test.ts compares all 65,537). Built here in about a
 * millisecond; a table formatted by JavaScript cost each worker about 16 ms as it started.
 */
EXPORT("build_q16") void build_q16(void) {
  for (u32 q = 0; q < Q16_VALUES; q++) {
    u8 *s = q16_text[q];
    for (u32 k = 0; k < Q16_BYTES; k++) s[k] = 0;
    if (q == 0 || q == Q16_VALUES - 1) {
      s[0] = q == 0 ? '0' : '1';
      q16_length[q] = 1;
      continue;
    }
    u64 digits = (u64)q * 152587890625ull; /* q * 5^16 < 10^16 */
    u32 end = 18;                          /* "0." and 16 decimals */
    while (digits % 10 == 0) {
      digits /= 10;
      end--;
    }
    s[0] = '0';
    s[1] = '.';
    for (u32 k = end; k > 2; k--) {
      s[k - 1] = (u8)('0' + digits % 10);
      digits /= 10;
    }
    q16_length[q] = (u8)end;
  }
}

/*
 * A literal held in registers: format_records loads each once per call. Read from literal[] per
 * record, every one was loaded again after each store (a u8 store may alias anything), and each
 * field's position waited on that load (measured 9.0 ns a JSONL record, against 8.4 held). Whole 16
 * bytes are stored (the padding is overwritten by what follows), then p advances by the length.
 */
typedef struct {
  v128_t text;
  u32 length;
} held_literal;

static inline held_literal hold_literal(u32 k) {
  held_literal h = {wasm_v128_load(literal[k]), literal_length[k]};
  return h;
}

static inline u8 *put_held(u8 *p, held_literal h) {
  wasm_v128_store(p, h.text);
  return p + h.length;
}

static inline u8 *put_q16(u8 *p, u32 q) {
  /* q <= 65536 by the kernel's contract; the host checks it before the call. Whole 20 bytes copied, as put_held. */
  const u8 *s = q16_text[q];
  wasm_v128_store(p, wasm_v128_load(s));
  *(u32_any *)(p + 16) = *(const u32_any *)(s + 16);
  return p + q16_length[q];
}

/* "00".."99": two digits per step of a conversion, half the divisions. */
static const char DIGIT_PAIRS[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* Decimal of n, as String(n) for an integer below 2^53. */
static inline u8 *put_integer(u8 *p, u64 n) {
  if (n < 10) {
    *p = (u8)('0' + n);
    return p + 1;
  }
  if (n < 100) {
    *(u16_any *)p = *(const u16_any *)(DIGIT_PAIRS + 2 * n);
    return p + 2;
  }
  /* Written backwards from the end of its room, then moved to p. */
  u8 digits[24];
  u8 *d = digits + 24;
  while (n >= 100) {
    u64 q = n / 100;
    d -= 2;
    *(u16_any *)d = *(const u16_any *)(DIGIT_PAIRS + 2 * (u32)(n - 100 * q));
    n = q;
  }
  if (n >= 10) {
    d -= 2;
    *(u16_any *)d = *(const u16_any *)(DIGIT_PAIRS + 2 * (u32)n);
  } else *--d = (u8)('0' + n);
  u32 len = (u32)(digits + 24 - d);
  for (u32 k = 0; k < len; k++) p[k] = d[k];
  return p + len;
}

/*
 * A record index kept as its decimal digits (left-aligned, up to 17 of them) and incremented
 * in place: records of a window have consecutive indexes, so no conversion per record.
 */
typedef struct {
  u8 digits[32];
  u32 length;
} counter;

static inline void counter_set(counter *c, u64 n) {
  u8 *end = put_integer(c->digits, n);
  c->length = (u32)(end - c->digits);
}

static inline u8 *put_counter(u8 *p, const counter *c) {
  /* 16 bytes copied whatever the length (2^53 - 1 has 16 digits); what follows overwrites the rest. */
  wasm_v128_store(p, wasm_v128_load(c->digits));
  if (c->length > 16) p[16] = c->digits[16];
  return p + c->length;
}

static inline void counter_next(counter *c) {
  u32 k = c->length - 1;
  while (c->digits[k] == '9') {
    c->digits[k] = '0';
    if (k == 0) {
      /* 9..9 + 1: a 1 and one more zero */
      c->digits[0] = '1';
      c->digits[c->length++] = '0';
      return;
    }
    k--;
  }
  c->digits[k]++;
}

static const u8 HEX[16] = {'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};

/*
 * Length of the well-formed UTF-8 sequence at s (s[0] >= 0x80), or, when it
 * is ill-formed, minus the length of its maximal subpart (what the WHATWG
 * decoder replaces by one U+FFFD).
 */
static inline int utf8_sequence(const u8 *s, const u8 *end) {
  u32 b0 = s[0];
  u32 need, lo = 0x80, hi = 0xbf;
  if (b0 >= 0xc2 && b0 <= 0xdf) need = 1;
  else if (b0 >= 0xe0 && b0 <= 0xef) {
    need = 2;
    if (b0 == 0xe0) lo = 0xa0;
    else if (b0 == 0xed) hi = 0x9f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    need = 3;
    if (b0 == 0xf0) lo = 0x90;
    else if (b0 == 0xf4) hi = 0x8f;
  } else return -1;
  u32 ok = 1;
  while (ok <= need && s + ok < end) {
    u32 b = s[ok];
    if (b < lo || b > hi) break;
    lo = 0x80;
    hi = 0xbf;
    ok++;
  }
  return ok == need + 1 ? (int)ok : -(int)ok;
}

/* Copies a non-ASCII sequence, or writes U+FFFD for its maximal subpart. Returns the input consumed. */
static inline u32 put_sequence(u8 **out, const u8 *s, const u8 *end) {
  int n = utf8_sequence(s, end);
  u8 *p = *out;
  if (n > 0) {
    for (int k = 0; k < n; k++) p[k] = s[k];
    *out = p + n;
    return (u32)n;
  }
  p[0] = 0xef;
  p[1] = 0xbf;
  p[2] = 0xbd;
  *out = p + 3;
  return (u32)-n;
}

/* Writes the JSON escape of ASCII byte b (one that JSON.stringify escapes). */
static inline u8 *put_json_escape(u8 *p, u32 b) {
  p[0] = '\\';
  switch (b) {
    case '"': p[1] = '"'; return p + 2;
    case '\\': p[1] = '\\'; return p + 2;
    case 0x08: p[1] = 'b'; return p + 2;
    case 0x09: p[1] = 't'; return p + 2;
    case 0x0a: p[1] = 'n'; return p + 2;
    case 0x0c: p[1] = 'f'; return p + 2;
    case 0x0d: p[1] = 'r'; return p + 2;
    default:
      p[1] = 'u';
      p[2] = '0';
      p[3] = '0';
      p[4] = HEX[b >> 4];
      p[5] = HEX[b & 15];
      return p + 6;
  }
}

/* Whether JSON text copies byte b as it is: printable ASCII but the quote and the backslash. */
static inline int json_plain(u32 b) { return b - 0x20 < 0x60 && b != '"' && b != '\\'; }

/* The lanes of v that json_plain refuses, as a 16-bit mask. */
static inline u32 json_special_mask(v128_t v) {
  v128_t outside = wasm_u8x16_gt(wasm_i8x16_sub(v, wasm_i8x16_splat(0x20)), wasm_i8x16_splat(0x5f));
  v128_t quote = wasm_i8x16_eq(v, wasm_i8x16_splat('"'));
  v128_t backslash = wasm_i8x16_eq(v, wasm_i8x16_splat('\\'));
  return wasm_i8x16_bitmask(wasm_v128_or(outside, wasm_v128_or(quote, backslash)));
}

/* Copies the TEXT_BLOCK bytes at s to p; returns the mask of those json_plain refuses (bit k: byte k). */
static inline u64 json_block(u8 *p, const u8 *s) {
  u64 mask = 0;
  for (int k = 0; k < TEXT_BLOCK / 16; k++) {
    v128_t v = wasm_v128_load(s + 16 * k);
    wasm_v128_store(p + 16 * k, v);
    mask |= (u64)json_special_mask(v) << (16 * k);
  }
  return mask;
}

/* The text of a JSON string, as JSON.stringify writes the decoded text. */
static u8 *put_json_text(u8 *p, const u8 *s, const u8 *end) {
  while (s < end) {
    /* A run of plain bytes, a block at a time: what is stored past the run is overwritten, or past the text. */
    u64 mask = json_block(p, s);
    u32 run = mask ? (u32)__builtin_ctzll(mask) : TEXT_BLOCK;
    u32 left = (u32)(end - s);
    if (run >= left) return p + left;
    p += run;
    s += run;
    /* Then the bytes to escape or check, one by one, up to the next plain byte. */
    while (s < end && !json_plain(*s)) {
      u32 b = *s;
      if (b < 0x80) {
        p = put_json_escape(p, b);
        s++;
      } else {
        s += put_sequence(&p, s, end);
      }
    }
  }
  return p;
}

/* The bytes among the TEXT_BLOCK at s that make a CSV field quoted (the delimiter, a quote, CR, LF), as a mask. */
static inline u64 csv_quote_block(const u8 *s, v128_t delim) {
  u64 mask = 0;
  for (int k = 0; k < TEXT_BLOCK / 16; k++) {
    v128_t v = wasm_v128_load(s + 16 * k);
    v128_t hit = wasm_v128_or(wasm_v128_or(wasm_i8x16_eq(v, delim), wasm_i8x16_eq(v, wasm_i8x16_splat('"'))),
                              wasm_v128_or(wasm_i8x16_eq(v, wasm_i8x16_splat('\n')), wasm_i8x16_eq(v, wasm_i8x16_splat('\r'))));
    mask |= (u64)wasm_i8x16_bitmask(hit) << (16 * k);
  }
  return mask;
}

/* Copies the TEXT_BLOCK bytes at s to p; returns the mask of those not ASCII or equal to `doubled`'s bytes. */
static inline u64 csv_block(u8 *p, const u8 *s, v128_t doubled) {
  u64 mask = 0;
  for (int k = 0; k < TEXT_BLOCK / 16; k++) {
    v128_t v = wasm_v128_load(s + 16 * k);
    wasm_v128_store(p + 16 * k, v);
    mask |= (u64)wasm_i8x16_bitmask(wasm_v128_or(v, wasm_i8x16_eq(v, doubled))) << (16 * k);
  }
  return mask;
}

/* A CSV/TSV field: quoted (quotes doubled) when it holds the delimiter, a quote, CR or LF; else copied. */
static u8 *put_csv_text(u8 *p, const u8 *s, const u8 *end) {
  const v128_t delim = wasm_i8x16_splat((signed char)delimiter);
  int quote = 0;
  for (const u8 *t = s; t < end; t += TEXT_BLOCK) {
    u64 mask = csv_quote_block(t, delim);
    u32 left = (u32)(end - t);
    if (left < TEXT_BLOCK) mask &= (1ull << left) - 1;
    if (mask) {
      quote = 1;
      break;
    }
  }
  if (quote) *p++ = '"';
  /* Copied as they are: ASCII bytes, but a quote in a quoted field. 0xff never matches as a quote (it is not ASCII). */
  const v128_t doubled = wasm_i8x16_splat(quote ? '"' : (signed char)0xff);
  while (s < end) {
    u64 mask = csv_block(p, s, doubled);
    u32 run = mask ? (u32)__builtin_ctzll(mask) : TEXT_BLOCK;
    u32 left = (u32)(end - s);
    if (run >= left) {
      p += left;
      break;
    }
    p += run;
    s += run;
    if (run == TEXT_BLOCK) continue;
    if (*s < 0x80) {
      /* a quote, in a quoted field */
      p[0] = '"';
      p[1] = '"';
      p += 2;
      s++;
    } else {
      s += put_sequence(&p, s, end);
    }
  }
  if (quote) *p++ = '"';
  return p;
}

/* Formats records as format_window says, in text mode `mode` (a constant where this is inlined). */
static inline __attribute__((always_inline)) u32 format_records(const u32 mode, u32 count, double first_index,
                                                                const u32 *experts, const u32 *scores, const u32 *conf,
                                                                const u8 *bytes, const u32 *offsets, u32 base, u8 *out,
                                                                u32 capacity) {
  u8 *p = out;
  u8 *const limit = out + capacity;
  counter index;
  counter_set(&index, (u64)first_index);
  const held_literal l_index = hold_literal(L_INDEX), l_expert = hold_literal(L_EXPERT), l_score = hold_literal(L_SCORE),
                     l_confidence = hold_literal(L_CONFIDENCE), l_text_open = hold_literal(L_TEXT_OPEN),
                     l_text_close = hold_literal(L_TEXT_CLOSE), l_end = hold_literal(L_END);
  u32 i = 0;
  for (; i < count; i++) {
    u32 text_bytes = mode == TEXT_NONE ? 0 : offsets[i + 1] - offsets[i];
    if ((u64)(limit - p) < RECORD_ROOM + (u64)TEXT_EXPANSION * text_bytes) break;
    p = put_held(p, l_index);
    p = put_counter(p, &index);
    counter_next(&index);
    p = put_held(p, l_expert);
    p = put_integer(p, experts[i]);
    p = put_held(p, l_score);
    p = put_q16(p, scores[i]);
    p = put_held(p, l_confidence);
    p = put_q16(p, conf[i]);
    if (mode != TEXT_NONE) {
      const u8 *s = bytes + (offsets[i] - base);
      p = put_held(p, l_text_open);
      p = mode == TEXT_JSON ? put_json_text(p, s, s + text_bytes) : put_csv_text(p, s, s + text_bytes);
      p = put_held(p, l_text_close);
    }
    p = put_held(p, l_end);
  }
  written = (u32)(p - out);
  return i;
}

/*
 * Formats records while they fit in out[0, capacity): record i has index
 * first_index + i, results experts[i], scores[i], conf[i] and, with a text
 * mode, the text bytes[offsets[i] - base, offsets[i + 1] - base). Returns
 * the records written (written() gives their bytes); 0 when record 0 alone
 * could not fit, which the host formats another way.
 */
EXPORT("format_window")
u32 format_window(u32 count, double first_index, const u32 *experts, const u32 *scores, const u32 *conf, const u8 *bytes,
                  const u32 *offsets, u32 base, u8 *out, u32 capacity) {
  /* One loop per text mode, each with its mode folded in. */
  switch (text_mode) {
    case TEXT_JSON:
      return format_records(TEXT_JSON, count, first_index, experts, scores, conf, bytes, offsets, base, out, capacity);
    case TEXT_CSV:
      return format_records(TEXT_CSV, count, first_index, experts, scores, conf, bytes, offsets, base, out, capacity);
    default:
      return format_records(TEXT_NONE, count, first_index, experts, scores, conf, bytes, offsets, base, out, capacity);
  }
}
