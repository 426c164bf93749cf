/*
 * The output formatter in WebAssembly: routed records written as JSONL, CSV
 * or TSV bytes, the same bytes as ByteFormatter (byte-formatter.ts), which is
 * the JavaScript twin and the fallback. Built by `npm run build:wasm`; the
 * built format.wasm is committed so that installing needs no compiler.
 *
 * This file holds NO format text. The host (wasm-formatter.ts) writes the
 * literals between the fields (`{"index":`, the delimiter, ...) and the table
 * of the 65,537 Q16 decimal strings into the arrays below. Only the escaping
 * rules of JSON strings and CSV fields and the WHATWG UTF-8 decoder's
 * replacement of ill-formed sequences are written here.
 */
typedef unsigned char u8;
typedef unsigned int u32;
typedef unsigned long long u64;
/* 8 bytes at any address: WebAssembly loads and stores need no alignment. */
typedef u64 u64_any __attribute__((aligned(1)));

#define EXPORT(name) __attribute__((export_name(name)))

/* The literals of a record, in the order they are written (LITERAL_NAMES in wasm-formatter.ts). */
enum { L_INDEX, L_EXPERT, L_SCORE, L_CONFIDENCE, L_TEXT_OPEN, L_TEXT_CLOSE, L_END, L_COUNT };
#define LITERAL_BYTES 32
#define Q16_VALUES 65537
#define Q16_BYTES 20
/* The fixed part of a record (literals, two integers, two Q16 strings) always fits this. */
#define RECORD_ROOM (L_COUNT * LITERAL_BYTES + 2 * 20 + 2 * Q16_BYTES + 8)
/* Most bytes one input byte of text becomes (\u00XX). */
#define TEXT_EXPANSION 6

/* Text modes: TEXT_JSON escapes as JSON.stringify does; TEXT_CSV quotes the field when needed, doubling quotes. */
enum { TEXT_NONE, TEXT_JSON, TEXT_CSV };

/* Written by the host. */
static u8 literal[L_COUNT][LITERAL_BYTES] __attribute__((aligned(8)));
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
EXPORT("set_mode") void set_mode(u32 mode, u32 delim) {
  text_mode = mode;
  delimiter = delim;
}

extern u8 __heap_base;
/* First free byte of linear memory: the host places its windows from here. */
EXPORT("heap_base") u32 heap_base(void) { return (u32)&__heap_base; }

/* Bytes written by the last format_window call. */
static u32 written;
EXPORT("written") u32 written_bytes(void) { return written; }

static inline u8 *put_literal(u8 *p, u32 k) {
  /* Whole 32 bytes copied (the padding is overwritten by what follows), then advance by the length. */
  const u64 *s = (const u64 *)literal[k];
  u64_any *d = (u64_any *)p;
  d[0] = s[0];
  d[1] = s[1];
  d[2] = s[2];
  d[3] = s[3];
  return p + literal_length[k];
}

static inline u8 *put_q16(u8 *p, u32 q) {
  /* q <= 65536 by the kernel's contract; the host checks it before the call. */
  const u8 *s = q16_text[q];
  for (int k = 0; k < Q16_BYTES; k++) p[k] = s[k];
  return p + q16_length[q];
}

/* Decimal of n, as String(n) for an integer below 2^53. */
static inline u8 *put_integer(u8 *p, u64 n) {
  if (n < 10) {
    *p = (u8)('0' + n);
    return p + 1;
  }
  u8 digits[20];
  int k = 20;
  if (n <= 0xffffffffu) {
    u32 v = (u32)n;
    while (v > 0) {
      digits[--k] = (u8)('0' + v % 10);
      v /= 10;
    }
  } else {
    while (n > 0) {
      digits[--k] = (u8)('0' + n % 10);
      n /= 10;
    }
  }
  while (k < 20) *p++ = digits[k++];
  return p;
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

/* The text of a JSON string, as JSON.stringify writes the decoded text. */
static u8 *put_json_text(u8 *p, const u8 *s, const u8 *end) {
  while (s < end) {
    u32 b = *s;
    if (b >= 0x20 && b < 0x80 && b != '"' && b != '\\') {
      *p++ = (u8)b;
      s++;
    } else if (b < 0x80) {
      s++;
      *p++ = '\\';
      switch (b) {
        case '"': *p++ = '"'; break;
        case '\\': *p++ = '\\'; break;
        case 0x08: *p++ = 'b'; break;
        case 0x09: *p++ = 't'; break;
        case 0x0a: *p++ = 'n'; break;
        case 0x0c: *p++ = 'f'; break;
        case 0x0d: *p++ = 'r'; break;
        default:
          p[0] = 'u';
          p[1] = '0';
          p[2] = '0';
          p[3] = HEX[b >> 4];
          p[4] = HEX[b & 15];
          p += 5;
      }
    } else {
      s += put_sequence(&p, s, end);
    }
  }
  return p;
}

/* A CSV/TSV field: quoted (quotes doubled) when it holds the delimiter, a quote, CR or LF; else copied. */
static u8 *put_csv_text(u8 *p, const u8 *s, const u8 *end) {
  int quote = 0;
  for (const u8 *t = s; t < end; t++) {
    u32 b = *t;
    if (b == delimiter || b == '"' || b == '\n' || b == '\r') {
      quote = 1;
      break;
    }
  }
  if (quote) *p++ = '"';
  while (s < end) {
    u32 b = *s;
    if (b < 0x80) {
      if (b == '"' && quote) *p++ = '"';
      *p++ = (u8)b;
      s++;
    } else {
      s += put_sequence(&p, s, end);
    }
  }
  if (quote) *p++ = '"';
  return p;
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
  u8 *p = out;
  u8 *const limit = out + capacity;
  u64 index = (u64)first_index;
  const u32 mode = text_mode;
  u32 i = 0;
  for (; i < count; i++) {
    u32 text_bytes = mode == TEXT_NONE ? 0 : offsets[i + 1] - offsets[i];
    if ((u64)(limit - p) < RECORD_ROOM + (u64)TEXT_EXPANSION * text_bytes) break;
    p = put_literal(p, L_INDEX);
    p = put_integer(p, index + i);
    p = put_literal(p, L_EXPERT);
    p = put_integer(p, experts[i]);
    p = put_literal(p, L_SCORE);
    p = put_q16(p, scores[i]);
    p = put_literal(p, L_CONFIDENCE);
    p = put_q16(p, conf[i]);
    if (mode != TEXT_NONE) {
      const u8 *s = bytes + (offsets[i] - base);
      p = put_literal(p, L_TEXT_OPEN);
      p = mode == TEXT_JSON ? put_json_text(p, s, s + text_bytes) : put_csv_text(p, s, s + text_bytes);
      p = put_literal(p, L_TEXT_CLOSE);
    }
    p = put_literal(p, L_END);
  }
  written = (u32)(p - out);
  return i;
}
