/**
 * Output records written as BYTES, identical to RecordFormatter's text
 * encoded as UTF-8, without a JS string per record: the 65,537 possible Q16
 * numbers come from one table built once, and `--include-text` escapes
 * straight from the record's UTF-8 bytes. The text written is the one
 * RecordFormatter gets from recordText(): the WHATWG UTF-8 decoding with
 * ignoreBOM (invalid sequences become U+FFFD per maximal subpart, a leading
 * U+FEFF stays), then JSON.stringify or CSV/TSV quoting.
 *
 * Records go into a ByteOutput: a reused buffer handed to a sink whenever it
 * fills, so a record of any size (600 MB of text) is written in pieces.
 */
import { RecordFormatter, type FormatOptions } from './output-format.js';
import { ONE } from '../model/fixed-point.js';
import type { PackedBatch } from '../model/packed-batch.js';

/** Receives filled output. `chunk` is only valid during the call: write or copy it before returning. */
export type ByteSink = (chunk: Uint8Array) => void;

/** Most bytes one step of the formatter writes before checking for room again (a record's fixed fields). */
const STEP_ROOM = 192;

/**
 * Bytes written at once from this length on go to the sink as they are, not through the buffer:
 * the sink's copy is then the only one (the WebAssembly formatter's output areas, megabytes each).
 */
const HAND_OVER_BYTES = 64 << 10;

/**
 * `bytes` bytes as the allocator gives them, not zero-filled: for buffers written before they are
 * read (filling a batch-sized one cost as much as formatting into it). An ArrayBuffer of its own,
 * never Node's shared pool, seen as a plain Uint8Array: its slice() copies, unlike a Buffer's.
 */
export function uninitializedBytes(bytes: number): Uint8Array {
  const b = Buffer.allocUnsafeSlow(bytes);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export class ByteOutput {
  /** The reused buffer; bytes [0, pos) are pending. */
  buffer: Uint8Array;
  /** The same memory, for writing four bytes at a time (TurboFan makes each one store). */
  readonly view: DataView;
  pos = 0;

  constructor(
    private readonly sink: ByteSink,
    capacity = 1 << 16,
  ) {
    this.buffer = uninitializedBytes(Math.max(capacity, 4 * STEP_ROOM));
    this.view = new DataView(this.buffer.buffer, this.buffer.byteOffset, this.buffer.byteLength);
  }

  /** Hands the pending bytes to the sink. */
  flush(): void {
    if (this.pos > 0) {
      const n = this.pos;
      this.pos = 0;
      this.sink(this.buffer.subarray(0, n));
    }
  }

  /** Makes room for `n` bytes (n <= STEP_ROOM) at pos, flushing first if needed. */
  room(n: number): void {
    if (this.pos + n > this.buffer.length) this.flush();
  }

  /** Writes `bytes`, which the caller may reuse once this returns (long ones go to the sink directly, in pieces no longer than the buffer). */
  writeBytes(bytes: Uint8Array): void {
    if (bytes.length >= HAND_OVER_BYTES) {
      this.flush();
      for (let from = 0; from < bytes.length; from += this.buffer.length) this.sink(bytes.subarray(from, from + this.buffer.length));
      return;
    }
    let from = 0;
    while (from < bytes.length) {
      if (this.pos === this.buffer.length) this.flush();
      const n = Math.min(bytes.length - from, this.buffer.length - this.pos);
      this.buffer.set(bytes.subarray(from, from + n), this.pos);
      this.pos += n;
      from += n;
    }
  }
}

/**
 * Every String(q / 65536) for q in 0..ONE, as ASCII packed little-endian in
 * Q16_WORDS words per value (zero-padded), with its length: written as whole
 * words, then the position advances by the length only.
 */
const Q16_WORDS = 5;
let q16Words: Uint32Array | null = null;
let q16Length: Uint8Array | null = null;

/** ASCII text packed little-endian into 32-bit words, zero-padded, `words` of them. */
function packWords(text: string, out: Uint32Array, at: number, words: number): void {
  for (let k = 0; k < words * 4; k++) {
    const c = k < text.length ? text.charCodeAt(k) : 0;
    out[at + (k >>> 2)] |= c << (8 * (k & 3));
  }
}

export function q16Table(): { words: Uint32Array; length: Uint8Array } {
  if (q16Words === null || q16Length === null) {
    const words = new Uint32Array((ONE + 1) * Q16_WORDS);
    const length = new Uint8Array(ONE + 1);
    for (let q = 0; q <= ONE; q++) {
      const text = String(q / ONE);
      if (text.length > Q16_WORDS * 4) throw new Error(`Q16 text "${text}" is longer than ${Q16_WORDS * 4} characters`);
      packWords(text, words, q * Q16_WORDS, Q16_WORDS);
      length[q] = text.length;
    }
    q16Words = words;
    q16Length = length;
  }
  return { words: q16Words, length: q16Length };
}

/** A literal written as whole words. */
interface Literal {
  words: Uint32Array;
  length: number;
}
function literal(text: string): Literal {
  const words = new Uint32Array(Math.ceil(text.length / 4));
  packWords(text, words, 0, words.length);
  return { words, length: text.length };
}

/** Writes a literal at p (up to 3 bytes past its end are overwritten later); returns the new position. */
function putLiteral(view: DataView, p: number, lit: Literal): number {
  const w = lit.words;
  for (let k = 0; k < w.length; k++) view.setUint32(p + 4 * k, w[k], true);
  return p + lit.length;
}

const encoder = new TextEncoder();
const ascii = (s: string): Uint8Array => encoder.encode(s);

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LF = 0x0a;
const CR = 0x0d;
const HEX = ascii('0123456789abcdef');
/** JSON.stringify's short escapes, by control byte (0 = use \u00XX). */
const SHORT_ESCAPE = new Uint8Array(0x20);
SHORT_ESCAPE[0x08] = 0x62; // \b
SHORT_ESCAPE[0x09] = 0x74; // \t
SHORT_ESCAPE[0x0a] = 0x6e; // \n
SHORT_ESCAPE[0x0c] = 0x66; // \f
SHORT_ESCAPE[0x0d] = 0x72; // \r

/** Per text mode, per byte: 1 when the byte is copied as it is (printable ASCII that needs no escape). */
const PLAIN: readonly Uint8Array[] = [0, 1, 2].map((mode) =>
  Uint8Array.from({ length: 256 }, (_, x) => {
    if (x >= 0x80) return 0;
    if (mode === 0) return x >= 0x20 && x !== QUOTE && x !== BACKSLASH ? 1 : 0;
    if (mode === 1) return x !== QUOTE ? 1 : 0;
    return 1;
  }),
);

/** How the text of a record is escaped. */
const enum TextMode {
  Json = 0,
  /** Inside a quoted CSV/TSV field: `"` doubled. */
  Quoted = 1,
  /** An unquoted CSV/TSV field: copied. */
  Plain = 2,
}

/**
 * The literals around a routed record's fields, in the order they are
 * written: index, expert, complexity, confidence, [text], end. The CSV/TSV
 * text is quoted per record (only when it needs it), so its quotes are not
 * literals. Both byte formatters write these; RecordFormatter's templates are
 * the definition they are tested against.
 */
export interface RecordLiterals {
  index: string;
  expert: string;
  complexity: string;
  confidence: string;
  textOpen: string;
  textClose: string;
  end: string;
}

export function recordLiterals(options: FormatOptions): RecordLiterals {
  if (options.format === 'jsonl') {
    return { index: '{"index":', expert: ',"expert":', complexity: ',"complexity":', confidence: ',"confidence":', textOpen: ',"text":"', textClose: '"', end: '}\n' };
  }
  const d = options.format === 'tsv' ? '\t' : ',';
  return { index: '', expert: d, complexity: d, confidence: d, textOpen: d, textClose: '', end: options.errorColumn ? `${d}\n` : '\n' };
}

/**
 * A run of routed records with no error record among them: record k has
 * index firstIndex + k, results experts[k] .., and, for --include-text, the
 * text bytes[offsets[k], offsets[k + 1]) of `text` (offsets: count + 1 of them).
 */
export interface RecordRun {
  firstIndex: number;
  count: number;
  experts: Uint32Array;
  scoresQ16: Uint32Array;
  confidenceQ16: Uint32Array;
  text?: PackedBatch;
}

/** What formats runs of routed records: ByteFormatter, or WasmFormatter (the same bytes). */
export interface RunFormatter {
  records(out: ByteOutput, run: RecordRun): void;
}

/** The run's text when the formatter writes it (--include-text), which it then must have. */
export function runText(run: RecordRun, includeText: boolean, formatter: string): PackedBatch | null {
  if (!includeText) return null;
  if (run.text === undefined) throw new Error(`${formatter}.records: includeText needs the bytes and offsets of the records`);
  return run.text;
}

export class ByteFormatter implements RunFormatter {
  private readonly jsonl: boolean;
  private readonly delimiter: number;
  private readonly includeText: boolean;
  private readonly errorColumn: boolean;
  private readonly strings: RecordFormatter;
  /** The Q16 table, built on first use (a WasmFormatter keeps one for its rare slow records, and builds its own table in the module). */
  private q16Words: Uint32Array | null = null;
  private q16Length: Uint8Array | null = null;
  private readonly digits = new Uint8Array(24);
  private readonly lit: {
    index: Literal;
    expert: Literal;
    complexity: Literal;
    confidence: Literal;
    text: Literal;
  };

  constructor(private readonly options: FormatOptions) {
    this.jsonl = options.format === 'jsonl';
    this.delimiter = options.format === 'tsv' ? 0x09 : 0x2c;
    this.includeText = options.includeText;
    this.errorColumn = options.errorColumn;
    this.strings = new RecordFormatter(options);
    const l = recordLiterals(options);
    this.lit = {
      index: literal(l.index),
      expert: literal(l.expert),
      complexity: literal(l.complexity),
      confidence: literal(l.confidence),
      text: literal(l.textOpen),
    };
  }

  /** The header line (CSV/TSV), or nothing for JSONL. */
  header(out: ByteOutput): void {
    out.writeBytes(ascii(this.strings.header()));
  }

  /** An error record; rare, so it goes through RecordFormatter's string. */
  error(out: ByteOutput, index: number, message: string): void {
    out.writeBytes(encoder.encode(this.strings.error(index, message)));
  }

  /**
   * One routed record. With includeText, its text is bytes[start, end) as
   * UTF-8 (any bytes: invalid sequences are written as U+FFFD).
   */
  record(
    out: ByteOutput,
    index: number,
    expert: number,
    scoreQ16: number,
    confidenceQ16: number,
    bytes?: Uint8Array,
    start = 0,
    end = bytes ? bytes.length : 0,
  ): void {
    out.room(STEP_ROOM);
    const buf = out.buffer;
    const view = out.view;
    let p = out.pos;
    const lit = this.lit;
    if (this.jsonl) {
      p = putLiteral(view, p, lit.index);
      p = this.integer(buf, p, index);
      p = putLiteral(view, p, lit.expert);
      p = this.integer(buf, p, expert);
      p = putLiteral(view, p, lit.complexity);
      p = this.q16(view, p, scoreQ16);
      p = putLiteral(view, p, lit.confidence);
      p = this.q16(view, p, confidenceQ16);
      if (bytes !== undefined && this.includeText) {
        p = putLiteral(view, p, lit.text);
        out.pos = p;
        writeText(out, bytes, start, end, TextMode.Json);
        out.room(3);
        out.buffer[out.pos] = QUOTE;
        out.buffer[out.pos + 1] = 0x7d;
        out.buffer[out.pos + 2] = LF;
        out.pos += 3;
        return;
      }
      buf[p] = 0x7d;
      buf[p + 1] = LF;
      out.pos = p + 2;
      return;
    }
    const d = this.delimiter;
    p = this.integer(buf, p, index);
    buf[p++] = d;
    p = this.integer(buf, p, expert);
    buf[p++] = d;
    p = this.q16(view, p, scoreQ16);
    buf[p++] = d;
    p = this.q16(view, p, confidenceQ16);
    if (this.includeText) {
      buf[p++] = d;
      out.pos = p;
      if (bytes !== undefined && end > start) {
        if (needsQuotes(bytes, start, end, d)) {
          buf[out.pos++] = QUOTE;
          writeText(out, bytes, start, end, TextMode.Quoted);
          out.room(1);
          out.buffer[out.pos++] = QUOTE;
        } else {
          writeText(out, bytes, start, end, TextMode.Plain);
        }
      }
      out.room(2);
      p = out.pos;
    }
    if (this.errorColumn) out.buffer[p++] = d;
    out.buffer[p++] = LF;
    out.pos = p;
  }

  /** A run of routed records, the fast path. */
  records(out: ByteOutput, run: RecordRun): void {
    const text = runText(run, this.includeText, 'ByteFormatter');
    const { firstIndex, count, experts, scoresQ16, confidenceQ16 } = run;
    for (let k = 0; k < count; k++) {
      this.record(out, firstIndex + k, experts[k], scoresQ16[k], confidenceQ16[k], text?.bytes, text ? text.offsets[k] : 0, text ? text.offsets[k + 1] : 0);
    }
  }

  private q16(view: DataView, p: number, q: number): number {
    if (this.q16Words === null || this.q16Length === null) ({ words: this.q16Words, length: this.q16Length } = q16Table());
    const w = this.q16Words;
    const at = q * Q16_WORDS;
    view.setUint32(p, w[at], true);
    view.setUint32(p + 4, w[at + 1], true);
    view.setUint32(p + 8, w[at + 2], true);
    view.setUint32(p + 12, w[at + 3], true);
    view.setUint32(p + 16, w[at + 4], true);
    return p + this.q16Length[q];
  }

  /** Decimal of a non-negative integer, as String(n). */
  private integer(buf: Uint8Array, p: number, n: number): number {
    if (n < 10) {
      buf[p] = 0x30 + n;
      return p + 1;
    }
    const d = this.digits;
    let k = d.length;
    if (n <= 0x7fffffff) {
      let v = n | 0;
      while (v > 0) {
        const q = (v / 10) | 0;
        d[--k] = 0x30 + (v - q * 10);
        v = q;
      }
    } else {
      const s = String(n);
      for (let i = s.length - 1; i >= 0; i--) d[--k] = s.charCodeAt(i);
    }
    for (; k < d.length; k++) buf[p++] = d[k];
    return p;
  }
}

/** RecordFormatter's quoteField test, on bytes: those four characters are ASCII and survive decoding unchanged. */
function needsQuotes(bytes: Uint8Array, start: number, end: number, d: number): boolean {
  for (let i = start; i < end; i++) {
    const b = bytes[i];
    if (b === d || b === QUOTE || b === LF || b === CR) return true;
  }
  return false;
}

/**
 * Writes the decoded-then-escaped text of bytes[start, end). The WHATWG
 * decoder's error handling, done on bytes: a well-formed sequence is copied,
 * each maximal subpart of an ill-formed one becomes EF BF BD (U+FFFD), and an
 * ASCII byte is never swallowed by an error. Checks for room every step, so
 * the text may be far larger than the buffer.
 */
function writeText(out: ByteOutput, bytes: Uint8Array, start: number, end: number, mode: TextMode): void {
  let buf = out.buffer;
  let p = out.pos;
  // Each step writes at most 6 bytes (\u00XX); leave room for that.
  let limit = buf.length - 8;
  const plain = PLAIN[mode];
  let i = start;
  while (i < end) {
    if (p > limit) {
      out.pos = p;
      out.flush();
      buf = out.buffer;
      p = out.pos;
      limit = buf.length - 8;
    }
    // A run of bytes copied as they are, as far as the room left allows.
    const stop = Math.min(end, i + (limit - p) + 1);
    while (i < stop) {
      const b = bytes[i];
      if (plain[b] === 0) break;
      buf[p++] = b;
      i++;
    }
    if (i === end || p > limit) continue;
    const b0 = bytes[i];
    if (b0 < 0x80) {
      i++;
      if (mode === TextMode.Json) {
        if (b0 < 0x20) {
          buf[p++] = BACKSLASH;
          const short = SHORT_ESCAPE[b0];
          if (short !== 0) buf[p++] = short;
          else {
            buf[p++] = 0x75; // u
            buf[p++] = 0x30;
            buf[p++] = 0x30;
            buf[p++] = HEX[b0 >>> 4];
            buf[p++] = HEX[b0 & 15];
          }
          continue;
        }
        if (b0 === QUOTE || b0 === BACKSLASH) buf[p++] = BACKSLASH;
      } else if (mode === TextMode.Quoted && b0 === QUOTE) {
        buf[p++] = QUOTE;
      }
      buf[p++] = b0;
      continue;
    }
    // Length of the well-formed prefix at i: 0 (an invalid lead byte) .. 4.
    let ok = 0;
    let need = 0;
    let lo = 0x80;
    let hi = 0xbf;
    if (b0 >= 0xc2 && b0 <= 0xdf) need = 1;
    else if (b0 >= 0xe0 && b0 <= 0xef) {
      need = 2;
      if (b0 === 0xe0) lo = 0xa0;
      else if (b0 === 0xed) hi = 0x9f;
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      need = 3;
      if (b0 === 0xf0) lo = 0x90;
      else if (b0 === 0xf4) hi = 0x8f;
    }
    if (need > 0) {
      ok = 1;
      while (ok <= need && i + ok < end) {
        const b = bytes[i + ok];
        if (b < lo || b > hi) break;
        lo = 0x80;
        hi = 0xbf;
        ok++;
      }
    }
    if (need > 0 && ok === need + 1) {
      for (let k = 0; k < ok; k++) buf[p++] = bytes[i + k];
      i += ok;
    } else {
      // A maximal subpart: the lead byte and the continuation bytes that were valid so far.
      buf[p++] = 0xef;
      buf[p++] = 0xbf;
      buf[p++] = 0xbd;
      i += need > 0 ? ok : 1;
    }
  }
  out.pos = p;
}
