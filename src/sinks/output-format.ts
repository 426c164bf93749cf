/**
 * Output records: JSONL, CSV (RFC 4180 quoting) or TSV (the same quoting with
 * a tab). Numbers are exact: complexity and confidence are Q16 fractions
 * (q / 65536), printed with JavaScript's shortest round-trip form, so GPU and
 * CPU runs give the same bytes.
 */
export type OutputFormat = 'jsonl' | 'csv' | 'tsv';

/**
 * A record text of at least this many bytes is written in pieces decoded
 * from its bytes (recordPieces), never as one JS string: V8 strings stop at
 * ~512 M characters, and a big string is also a big peak of memory.
 */
export const TEXT_PIECE_BYTES = 1 << 20;
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['jsonl', 'csv', 'tsv'];

// q / 65536 as text, cached: there are only 65537 values and converting a double to its shortest text is slow.
const q16Text: (string | undefined)[] = new Array<string | undefined>(65537);

export function q16(q: number): string {
  return (q16Text[q] ??= String(q / 65536));
}

/** Quotes a CSV/TSV field when it holds the delimiter, a quote, CR or LF. */
export function quoteField(value: string, delimiter: string): string {
  if (value.includes(delimiter) || value.includes('"') || value.includes('\n') || value.includes('\r')) {
    return `"${value.replaceAll('"', '""')}"`;
  }
  return value;
}

// ignoreBOM: a U+FEFF at the start of a record is text the router counted, so
// --include-text keeps it (the default decoder would silently drop it).
// Invalid UTF-8 becomes U+FFFD (WHATWG maximal subparts).
const textDecoder = new TextDecoder('utf-8', { ignoreBOM: true });

/** The text of a record's UTF-8 bytes as every output writes it (ByteFormatter writes the same, as bytes). */
export function recordText(bytes: Uint8Array): string {
  return textDecoder.decode(bytes);
}

export interface FormatOptions {
  format: OutputFormat;
  includeText: boolean;
  /** CSV/TSV: add an `error` column (used with --on-error skip). */
  errorColumn: boolean;
  /** Columns added after `confidence` (model, cause: record-annotations.ts); record() gets their values pre-rendered. */
  extraColumns?: readonly string[];
}

export class RecordFormatter {
  private readonly d: string;
  constructor(private readonly o: FormatOptions) {
    this.d = o.format === 'tsv' ? '\t' : ',';
  }

  /** Header line (CSV/TSV), or '' for JSONL. */
  header(): string {
    if (this.o.format === 'jsonl') return '';
    const cols = ['index', 'expert', 'complexity', 'confidence', ...(this.o.extraColumns ?? [])];
    if (this.o.includeText) cols.push('text');
    if (this.o.errorColumn) cols.push('error');
    return cols.join(this.d) + '\n';
  }

  /** `extra`: the extraColumns' fields, already rendered for this format with their leading separator; `text` given as bytes is decoded by recordText(). */
  record(index: number, expert: number, scoreQ16: number, confidenceQ16: number, text?: string | Uint8Array, extra = ''): string {
    if (text instanceof Uint8Array) text = recordText(text);
    if (this.o.format === 'jsonl') {
      const base = `{"index":${index},"expert":${expert},"complexity":${q16(scoreQ16)},"confidence":${q16(confidenceQ16)}${extra}`;
      return text === undefined ? base + '}\n' : `${base},"text":${JSON.stringify(text)}}\n`;
    }
    const d = this.d;
    let line = `${index}${d}${expert}${d}${q16(scoreQ16)}${d}${q16(confidenceQ16)}${extra}`;
    if (this.o.includeText) line += d + quoteField(text ?? '', d);
    if (this.o.errorColumn) line += d;
    return line + '\n';
  }

  /**
   * The same output as record(..., text) for a text given as its UTF-8 bytes,
   * as a sequence of strings each made from at most `pieceBytes` input bytes.
   * Pieces are cut anywhere; the streaming decoder keeps a character split
   * between pieces whole, so the output equals the one-string form byte for byte.
   */
  *recordPieces(index: number, expert: number, scoreQ16: number, confidenceQ16: number, text: Uint8Array, pieceBytes: number = TEXT_PIECE_BYTES, extra = ''): Generator<string> {
    const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
    const pieces = function* (): Generator<string> {
      for (let at = 0; at < text.length; at += pieceBytes) {
        const piece = decoder.decode(text.subarray(at, Math.min(text.length, at + pieceBytes)), { stream: true });
        if (piece !== '') yield piece;
      }
      const last = decoder.decode();
      if (last !== '') yield last;
    };
    if (this.o.format === 'jsonl') {
      yield `{"index":${index},"expert":${expert},"complexity":${q16(scoreQ16)},"confidence":${q16(confidenceQ16)}${extra},"text":"`;
      for (const piece of pieces()) yield JSON.stringify(piece).slice(1, -1);
      yield '"}\n';
      return;
    }
    const d = this.d;
    yield `${index}${d}${expert}${d}${q16(scoreQ16)}${d}${q16(confidenceQ16)}${extra}${d}`;
    const bytes = Buffer.from(text.buffer, text.byteOffset, text.byteLength);
    const quote = bytes.includes(d.charCodeAt(0)) || bytes.includes(0x22) || bytes.includes(0x0a) || bytes.includes(0x0d);
    if (quote) yield '"';
    for (const piece of pieces()) yield quote ? piece.replaceAll('"', '""') : piece;
    if (quote) yield '"';
    yield this.o.errorColumn ? `${d}\n` : '\n';
  }

  error(index: number, message: string): string {
    if (this.o.format === 'jsonl') return `{"index":${index},"error":${JSON.stringify(message)}}\n`;
    const d = this.d;
    let line = `${index}${d}${d}${d}${d.repeat(this.o.extraColumns?.length ?? 0)}`;
    if (this.o.includeText) line += d;
    return line + d + quoteField(message, d) + '\n';
  }
}
