/**
 * Streaming RFC 4180 parser over bytes (CSV with ",", TSV with a tab and the
 * same quoting rules). Records may span chunks and quoted fields may hold
 * newlines. It keeps only what the router needs: the bytes of one column,
 * optionally the record's raw bytes, and for the first record (the header)
 * every field as a string. Bad quoting makes that record an error record; the
 * parser resumes at the next line.
 */

const LF = 10;
const CR = 13;
const QUOTE = 34;

const enum State {
  FieldStart,
  Unquoted,
  Quoted,
  QuoteInQuoted,
  SkipLine,
}

export interface CsvRecord {
  /** 1-based physical line number where the record starts. */
  line: number;
  /** Number of fields seen. */
  fieldCount: number;
  /** Bytes of the wanted column (valid only if fieldCount > column and no error). */
  field: Uint8Array;
  /** All fields as strings: only for the header record. */
  fields?: string[];
  /** Raw bytes of the record (no terminator), if raw bytes were asked for. */
  raw?: Uint8Array;
  /** Empty physical line (no byte at all). */
  blank: boolean;
  error?: string;
}

class Bytes {
  buf = new Uint8Array(256);
  len = 0;
  push(b: number): void {
    if (this.len === this.buf.length) {
      const next = new Uint8Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.len++] = b;
  }
  append(src: Uint8Array): void {
    if (this.len + src.length > this.buf.length) {
      const next = new Uint8Array(Math.max(this.len + src.length, this.buf.length * 2));
      next.set(this.buf.subarray(0, this.len));
      this.buf = next;
    }
    this.buf.set(src, this.len);
    this.len += src.length;
  }
  view(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }
  reset(): void {
    this.len = 0;
  }
}

const decoder = new TextDecoder();

export class CsvParser {
  private state = State.FieldStart;
  private line = 1;
  private recordLine = 1;
  private col = 0;
  private recordBytes = 0;
  private pendingCR = false;
  private readonly field = new Bytes();
  private readonly raw = new Bytes();
  private headerFields: string[] | null = null;
  private error: string | undefined;
  /** Column whose bytes are kept; -1 for the header pass (all fields as strings). */
  column = -1;

  constructor(
    private readonly delimiter: number,
    private readonly keepRaw: boolean,
  ) {}

  /** Parses a chunk, calling onRecord for each complete record. */
  push(chunk: Uint8Array, onRecord: (r: CsvRecord) => void): void {
    const d = this.delimiter;
    let rawStart = 0;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i];
      if (this.pendingCR) {
        this.pendingCR = false;
        if (c !== LF && this.state !== State.SkipLine) {
          this.addByte(CR);
          if (this.state === State.FieldStart) this.state = State.Unquoted;
        }
      }
      if (c === LF) {
        this.line++;
        if (this.state === State.Quoted) {
          this.addByte(c);
          this.recordBytes++;
          continue;
        }
        if (this.state === State.QuoteInQuoted || this.state === State.Unquoted || this.state === State.FieldStart || this.state === State.SkipLine) {
          if (this.keepRaw) this.raw.append(chunk.subarray(rawStart, i));
          rawStart = i + 1;
          this.endRecord(onRecord);
          continue;
        }
      }
      this.recordBytes++;
      switch (this.state) {
        case State.FieldStart:
          if (c === QUOTE) this.state = State.Quoted;
          else if (c === d) this.endField();
          else if (c === CR) this.pendingCR = true;
          else {
            this.state = State.Unquoted;
            this.addByte(c);
          }
          break;
        case State.Unquoted:
          if (c === d) this.endField();
          else if (c === QUOTE) this.fail(`a quote inside unquoted field ${this.col + 1} (quote the whole field and double the quote)`);
          else if (c === CR) this.pendingCR = true;
          else this.addByte(c);
          break;
        case State.Quoted:
          if (c === QUOTE) this.state = State.QuoteInQuoted;
          else this.addByte(c);
          break;
        case State.QuoteInQuoted:
          if (c === QUOTE) {
            this.addByte(QUOTE);
            this.state = State.Quoted;
          } else if (c === d) this.endField();
          else if (c === CR) {
            this.pendingCR = true;
            this.state = State.Unquoted; // only a record end may follow; a CR alone becomes data
          } else this.fail(`unexpected character after the closing quote of field ${this.col + 1}`);
          break;
        case State.SkipLine:
          break;
      }
    }
    if (this.keepRaw) this.raw.append(chunk.subarray(rawStart));
  }

  /** End of input: the last record if it had no line end. */
  end(onRecord: (r: CsvRecord) => void): void {
    this.pendingCR = false;
    if (this.state === State.Quoted) {
      this.error ??= `unterminated quoted field ${this.col + 1} (the quote opened on line ${this.recordLine} is never closed)`;
      this.endRecord(onRecord);
    } else if (this.recordBytes > 0 || this.col > 0 || this.state !== State.FieldStart) {
      this.endRecord(onRecord);
    }
  }

  get header(): string[] | null {
    return this.headerFields;
  }

  private addByte(c: number): void {
    if (this.column === -1 || this.col === this.column) this.field.push(c);
  }

  private fail(message: string): void {
    this.error = message;
    this.state = State.SkipLine;
  }

  private fieldsSoFar: string[] = [];
  private kept: Uint8Array = new Uint8Array(0);

  private endField(): void {
    if (this.column === -1) this.fieldsSoFar.push(decoder.decode(this.field.view()));
    else if (this.col === this.column) this.kept = this.field.view().slice();
    this.field.reset();
    this.col++;
    this.state = State.FieldStart;
  }

  private endRecord(onRecord: (r: CsvRecord) => void): void {
    const blank = this.state === State.FieldStart && this.col === 0 && this.error === undefined;
    if (this.keepRaw && this.raw.len > 0 && this.raw.buf[this.raw.len - 1] === CR) this.raw.len--;
    if (this.state !== State.SkipLine) this.endField();
    const record: CsvRecord = {
      line: this.recordLine,
      fieldCount: this.col,
      field: this.kept,
      blank,
      ...(this.error !== undefined ? { error: this.error } : {}),
      ...(this.keepRaw ? { raw: this.raw.view().slice() } : {}),
    };
    if (this.column === -1) {
      record.fields = this.fieldsSoFar;
      this.headerFields ??= this.fieldsSoFar;
    }
    this.fieldsSoFar = [];
    this.kept = new Uint8Array(0);
    this.field.reset();
    this.raw.reset();
    this.col = 0;
    this.recordBytes = 0;
    this.error = undefined;
    this.state = State.FieldStart;
    this.recordLine = this.line;
    onRecord(record);
  }
}
