/**
 * Streaming RFC 4180 parser over bytes (CSV with ",", TSV with a tab and the
 * same quoting rules). Records may span chunks and quoted fields may hold
 * newlines. It keeps only what the router needs: the bytes of one column,
 * optionally the record's raw bytes, and for the first record (the header)
 * every field as a string. Bad quoting makes that record an error record; the
 * parser resumes at the next line.
 *
 * A quoted field that spans lines and then goes wrong (never closed before the
 * end of the input or the record limit, or text after its closing quote) is
 * most likely a stray quote: the record is an error naming the line where the
 * quote opened, and parsing resumes at the line after that one, so the rows
 * the stray quote swallowed are read again and none is lost. The bytes kept
 * for that are bounded by the record limit.
 */

import { formatSize, tooLongMessage } from './record-limit.js';

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
  /** Line where the current quoted field opened. */
  private quoteLine = 1;
  /** Bytes after the first line end inside the current quoted field (to parse again if it turns out to be a stray quote). */
  private readonly replay = new Bytes();
  private replaying = false;
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
    /** Longest record in bytes; a longer one is an error record as soon as it grows past it. */
    private readonly maxRecordBytes: number = Number.POSITIVE_INFINITY,
  ) {}

  /** Numbers the next line `line` (a part of a file read after its header). */
  startLine(line: number): void {
    this.line = line;
    this.recordLine = line;
  }

  /** Parses a chunk, calling onRecord for each complete record. */
  push(chunk: Uint8Array, onRecord: (r: CsvRecord) => void): void {
    const queue: Uint8Array[] = [chunk];
    while (queue.length > 0) {
      const again = this.pushSegment(queue.shift() as Uint8Array, onRecord);
      if (again) queue.unshift(again);
    }
  }

  /** Parses one segment; returns the bytes to parse next instead of the rest of it after a stray quote. */
  private pushSegment(chunk: Uint8Array, onRecord: (r: CsvRecord) => void): Uint8Array | null {
    const d = this.delimiter;
    let rawStart = 0;
    let replayFrom = 0;
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
          if (!this.replaying) {
            this.replaying = true;
            this.replay.reset();
            replayFrom = i + 1;
          }
          this.addByte(c);
          if (++this.recordBytes > this.maxRecordBytes) {
            return this.resync(chunk, replayFrom, onRecord, `quoted field ${this.col + 1} opened on line ${this.quoteLine} is not closed within ${formatSize(this.maxRecordBytes)} (--max-record-bytes ${this.maxRecordBytes}; a stray quote?)`);
          }
          continue;
        }
        if (this.state === State.QuoteInQuoted || this.state === State.Unquoted || this.state === State.FieldStart || this.state === State.SkipLine) {
          if (this.keepRaw && this.state !== State.SkipLine) this.raw.append(chunk.subarray(rawStart, i));
          rawStart = i + 1;
          this.endRecord(onRecord);
          continue;
        }
      }
      // a CR may still turn out to be part of the record's CRLF end, which does not count
      if (++this.recordBytes > this.maxRecordBytes && this.state !== State.SkipLine && c !== CR) {
        if (this.replaying) {
          return this.resync(chunk, replayFrom, onRecord, `quoted field ${this.col + 1} opened on line ${this.quoteLine} is not closed within ${formatSize(this.maxRecordBytes)} (--max-record-bytes ${this.maxRecordBytes}; a stray quote?)`);
        }
        this.fail(tooLongMessage(this.maxRecordBytes));
        continue;
      }
      switch (this.state) {
        case State.FieldStart:
          if (c === QUOTE) {
            this.state = State.Quoted;
            this.quoteLine = this.line;
          } else if (c === d) this.endField();
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
          } else if (this.replaying) {
            return this.resync(chunk, replayFrom, onRecord, `unexpected character after the closing quote of field ${this.col + 1}, a quoted field that opened on line ${this.quoteLine} and spans lines (a stray quote?)`);
          } else this.fail(`unexpected character after the closing quote of field ${this.col + 1}`);
          break;
        case State.SkipLine:
          break;
      }
    }
    if (this.keepRaw && this.state !== State.SkipLine) this.raw.append(chunk.subarray(rawStart));
    if (this.replaying) this.replay.append(chunk.subarray(replayFrom));
    return null;
  }

  /**
   * A quoted field that spans lines went wrong: the record is an error record
   * naming the line where the quote opened, and parsing goes on at the line
   * after that one. Returns the bytes to parse next: those kept since that
   * line and the rest of this chunk.
   */
  private resync(chunk: Uint8Array, replayFrom: number, onRecord: (r: CsvRecord) => void, problem: string): Uint8Array {
    const again = new Uint8Array(this.replay.len + (chunk.length - replayFrom));
    again.set(this.replay.view());
    again.set(chunk.subarray(replayFrom), this.replay.len);
    const resumeLine = this.quoteLine + 1;
    this.error = problem;
    this.state = State.SkipLine;
    this.pendingCR = false;
    this.endRecord(onRecord);
    this.startLine(resumeLine);
    return again;
  }

  /** End of input: the last record if it had no line end. */
  end(onRecord: (r: CsvRecord) => void): void {
    for (;;) {
      this.pendingCR = false;
      if (this.state === State.Quoted) {
        if (this.replaying) {
          // the quote swallowed the rest of the input: read it again from the line after the quote
          const again = this.replay.view().slice();
          const resumeLine = this.quoteLine + 1;
          this.error = `unterminated quoted field ${this.col + 1} (the quote opened on line ${this.quoteLine} is never closed)`;
          this.state = State.SkipLine;
          this.endRecord(onRecord);
          this.startLine(resumeLine);
          this.push(again, onRecord);
          continue;
        }
        this.error ??= `unterminated quoted field ${this.col + 1} (the quote opened on line ${this.quoteLine} is never closed)`;
        this.state = State.SkipLine;
        this.endRecord(onRecord);
      } else if (this.recordBytes > 0 || this.col > 0 || this.state !== State.FieldStart) {
        this.endRecord(onRecord);
      }
      return;
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
    this.raw.reset(); // an error record keeps no raw bytes: a long bad line must not fill memory
    this.field.reset();
    this.stopReplay();
  }

  private stopReplay(): void {
    if (!this.replaying) return;
    this.replaying = false;
    this.replay.reset();
  }

  private fieldsSoFar: string[] = [];
  private kept: Uint8Array = new Uint8Array(0);

  private endField(): void {
    this.stopReplay();
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
    this.stopReplay();
    onRecord(record);
  }
}
