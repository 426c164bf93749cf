/**
 * Record readers: turn a byte stream (file chunks, stdin) into batches the
 * engine routes directly. `lines` never creates a JS string; `jsonl` parses
 * each line (a string per line is unavoidable for JSON.parse); `csv`/`tsv`
 * parse bytes (src/sources/csv-parser.ts). A bad record becomes an error entry
 * with its line number and an empty text, so indexes stay aligned.
 *
 * A UTF-8 BOM at byte 0 of the input is skipped, whatever the format (U+FEFF
 * anywhere else is text). A record longer than maxRecordBytes is an error
 * record as soon as it grows past the limit, so memory stays bounded.
 */
import { constants as bufferConstants } from 'node:buffer';
import { ConfigError } from '../errors.js';
import type { PackedBatch } from '../model/packed-batch.js';
import { PackedBuilder } from './packed-builder.js';
import { LineSplitter, type LineSink } from './line-splitter.js';
import { CsvParser, type CsvRecord } from './csv-parser.js';
import { DEFAULT_MAX_RECORD_BYTES, formatSize, tooLongMessage } from './record-limit.js';

export { DEFAULT_MAX_RECORD_BYTES } from './record-limit.js';

export type InputFormat = 'lines' | 'jsonl' | 'csv' | 'tsv';
export const INPUT_FORMATS: readonly InputFormat[] = ['lines', 'jsonl', 'csv', 'tsv'];

export interface RecordError {
  /** Index of the record inside its batch. */
  local: number;
  /** 1-based line number in the input file where the record starts. */
  line: number;
  message: string;
}

export interface RecordBatch {
  /** Index of the first record in the whole input (0-based). */
  firstIndex: number;
  count: number;
  /** The text to route, one entry per record (error records: empty). */
  text: PackedBatch;
  /** The record's original bytes without its line end (jsonl/csv/tsv, when asked for). For `lines`, the text is the record. */
  raw?: PackedBatch;
  /** Bad records of this batch, in order. */
  errors: RecordError[];
  /** Input bytes read for this batch (approximate split between batches; exact in total). */
  inputBytes: number;
}

export interface ReaderOptions {
  format: InputFormat;
  /** Text field: jsonl path (a.b.c) or csv/tsv column name. Default "text". */
  field?: string;
  /** Name of the input for messages. */
  file: string;
  batchBytes: number;
  batchRecords: number;
  /** Keep the original record bytes (for --shards). */
  keepRaw: boolean;
  /** Global index of the first record (shards of a file). */
  firstIndex?: number;
  /** 1-based line number of the first byte read (shards of a file). */
  firstLine?: number;
  /** csv/tsv: header line parsed before the input (when reading a part of a file that does not start at 0). */
  csvHeader?: Uint8Array;
  /** The input starts at byte 0 of its file (default true): a UTF-8 BOM there is skipped. False for a --shard part past 0. */
  atFileStart?: boolean;
  /** Longest record in bytes (default DEFAULT_MAX_RECORD_BYTES); a longer one is an error record. */
  maxRecordBytes?: number;
  /** End the input after the batch holding the first error record (the caller stops there anyway: --on-error fail). */
  stopAtError?: boolean;
}

const BOM = [0xef, 0xbb, 0xbf];

export function formatFromPath(path: string | undefined): InputFormat {
  if (path === undefined || path === '-') return 'lines';
  const lower = path.toLowerCase();
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson')) return 'jsonl';
  if (lower.endsWith('.csv')) return 'csv';
  if (lower.endsWith('.tsv') || lower.endsWith('.tab')) return 'tsv';
  return 'lines';
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function describeType(v: Json | undefined): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}

/** Extracts a string at a dotted path, or returns an error message. */
export function extractField(value: Json, path: readonly string[], pathText: string): string | { error: string } {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { error: `expected a JSON object, got ${describeType(value)}` };
  }
  let cur: Json | undefined = value;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur) || !Object.prototype.hasOwnProperty.call(cur, key)) {
      return { error: `missing field "${pathText}"` };
    }
    cur = (cur as { [key: string]: Json })[key];
  }
  if (typeof cur !== 'string') return { error: `field "${pathText}" is ${describeType(cur)}, not a string` };
  return cur;
}

/**
 * Bytes a record costs on top of its text while its batch is in flight: offsets (4, and 4 more for
 * raw records), results (12), the router's float copies (8), the formatted batch's copies (12) and
 * its output record without text (about 90 in JSONL). Counted in --batch-bytes so that the memory
 * bound holds for batches of many short records too.
 */
export const RECORD_OVERHEAD_BYTES = 128;

/** A batch's first offsets array: enough for a batch of short records, grown on demand (never 65,537 for a 1 KiB batch). */
function initialRecords(o: { batchBytes: number; batchRecords: number }): number {
  return Math.max(16, Math.min(o.batchRecords, 65536, Math.ceil(o.batchBytes / RECORD_OVERHEAD_BYTES)));
}

export class RecordReader {
  private readonly text: PackedBuilder;
  private readonly raw: PackedBuilder | null;
  private errors: RecordError[] = [];
  private nextIndex: number;
  private batchStart: number;
  private line: number;
  private pendingInputBytes = 0;
  private readonly ready: RecordBatch[] = [];
  private readonly fieldPath: string[];
  private readonly fieldName: string;
  private csv: CsvParser | null = null;
  private headerSeen = false;
  private readonly maxRecordBytes: number;
  /** Bytes of a BOM matched so far at the start of the input; -1 once decided. */
  private bomAt: number;
  private stopped = false;
  /** csv/tsv: raw bytes of the header line (for shard files). */
  headerRaw: Uint8Array | null = null;

  constructor(private readonly opts: ReaderOptions) {
    const initialBytes = Math.min(opts.batchBytes, 1 << 20);
    this.text = new PackedBuilder(initialBytes, initialRecords(opts));
    this.raw = opts.keepRaw && opts.format !== 'lines' ? new PackedBuilder(initialBytes, initialRecords(opts)) : null;
    this.nextIndex = opts.firstIndex ?? 0;
    this.batchStart = this.nextIndex;
    this.line = opts.firstLine ?? 1;
    this.fieldName = opts.field ?? 'text';
    this.fieldPath = this.fieldName.split('.');
    this.maxRecordBytes = opts.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
    this.splitter = new LineSplitter(this.maxRecordBytes);
    this.bomAt = opts.atFileStart === false ? -1 : 0;
    if (opts.format === 'csv' || opts.format === 'tsv') {
      this.csv = new CsvParser(opts.format === 'csv' ? 44 : 9, opts.keepRaw, this.maxRecordBytes);
      if (opts.csvHeader) {
        this.csv.push(stripBom(opts.csvHeader), (r) => this.onCsv(r));
        this.csv.push(new Uint8Array([10]), (r) => this.onCsv(r));
      }
      // a part of a file: the header was line 1, the part's first line is firstLine
      this.csv.startLine(opts.firstLine ?? 1);
    }
  }

  /** Drops a UTF-8 BOM at byte 0, even one split across chunks. */
  private skipBom(chunk: Uint8Array): Uint8Array {
    let i = 0;
    while (this.bomAt >= 0 && this.bomAt < BOM.length && i < chunk.length) {
      if (chunk[i] !== BOM[this.bomAt]) {
        // not a BOM: give back the bytes that looked like its start
        const matched = this.bomAt;
        this.bomAt = -1;
        return matched > 0 ? Buffer.concat([Buffer.from(BOM.slice(0, matched)), chunk.subarray(i)]) : chunk.subarray(i);
      }
      this.bomAt++;
      i++;
    }
    if (this.bomAt === BOM.length) this.bomAt = -1;
    return chunk.subarray(i);
  }

  /** Reads the whole source, yielding batches in input order. */
  async *batches(source: AsyncIterable<Uint8Array>): AsyncGenerator<RecordBatch> {
    const sink = this.lineSink();
    for await (const input of source) {
      this.pendingInputBytes += input.length;
      const chunk = this.bomAt >= 0 ? this.skipBom(input) : input;
      if (this.csv) this.csv.push(chunk, (r) => this.onCsv(r));
      else this.splitter.push(chunk, sink);
      if (this.stopped) {
        // the caller stops at the bad record: hand it over now rather than read on (an endless input would never end)
        if (this.text.count > 0) this.flush();
        while (this.ready.length > 0) yield this.ready.shift() as RecordBatch;
        return;
      }
      while (this.ready.length > 0) yield this.ready.shift() as RecordBatch;
    }
    if (this.bomAt > 0) {
      // the input was a prefix of a BOM: those bytes are text
      const rest = Buffer.from(BOM.slice(0, this.bomAt));
      this.bomAt = -1;
      if (this.csv) this.csv.push(rest, (r) => this.onCsv(r));
      else this.splitter.push(rest, sink);
    }
    if (this.csv) this.csv.end((r) => this.onCsv(r));
    else this.splitter.end(sink);
    if (this.text.count > 0 || this.pendingInputBytes > 0) this.flush();
    while (this.ready.length > 0) {
      const b = this.ready.shift() as RecordBatch;
      if (b.count > 0 || b.inputBytes > 0) yield b;
    }
  }

  private readonly splitter: LineSplitter;

  private tooLong(): void {
    this.room(0);
    this.fail(this.text.count, this.line, tooLongMessage(this.maxRecordBytes));
    if (this.raw) this.raw.pushEmpty();
    this.added();
  }

  private lineSink(): LineSink {
    if (this.opts.format === 'lines') {
      return {
        line: (buf, s, e) => {
          this.room(e - s);
          this.text.push(buf, s, e);
          this.added();
        },
        longLine: (parts, length) => {
          this.room(length);
          this.text.pushParts(parts, length);
          this.added();
        },
        tooLong: () => this.tooLong(),
      };
    }
    return {
      line: (buf, s, e) => {
        this.room(e - s);
        this.jsonl(Buffer.from(buf.buffer, buf.byteOffset + s, e - s));
        if (this.raw) this.raw.push(buf, s, e);
        this.added();
      },
      longLine: (parts, length) => {
        this.room(length);
        const whole = Buffer.concat(parts, length);
        this.jsonl(whole);
        if (this.raw) this.raw.push(whole, 0, whole.length);
        this.added();
      },
      tooLong: () => this.tooLong(),
    };
  }

  private jsonl(bytes: Buffer): void {
    const local = this.text.count;
    if (bytes.length > bufferConstants.MAX_STRING_LENGTH) {
      // JSON.parse needs the line as one string; V8 cannot make one this long (and decoding would throw)
      this.fail(
        local,
        this.line,
        `a JSON line of ${formatSize(bytes.length)} is longer than the longest string JavaScript can parse (${bufferConstants.MAX_STRING_LENGTH} characters); route such text as lines (--format lines) or split it`,
      );
      return;
    }
    let value: Json;
    try {
      const src = bytes.toString('utf8');
      if (src.trim() === '') throw new SyntaxError('empty line, expected a JSON object');
      value = JSON.parse(src) as Json;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const why = e.code === 'ERR_STRING_TOO_LONG' ? 'the line is longer than the longest string JavaScript can parse' : e.message;
      this.fail(local, this.line, `invalid JSON: ${why}`);
      return;
    }
    const got = extractField(value, this.fieldPath, this.fieldName);
    if (typeof got === 'string') this.text.pushString(got);
    else this.fail(local, this.line, got.error);
  }

  private onCsv(r: CsvRecord): void {
    if (!this.headerSeen) {
      this.headerSeen = true;
      if (r.error !== undefined) throw new ConfigError(`${this.opts.file}:${r.line}: bad header: ${r.error}`);
      const names = r.fields ?? [];
      const col = names.indexOf(this.fieldName);
      if (col < 0) {
        throw new ConfigError(`${this.opts.file}:${r.line}: no column "${this.fieldName}" in the header (columns: ${names.join(', ')}); choose one with --field`);
      }
      const again = names.indexOf(this.fieldName, col + 1);
      if (again >= 0) {
        // routing one of two same-named columns would be a silent guess
        throw new ConfigError(
          `${this.opts.file}:${r.line}: the header names column "${this.fieldName}" twice (columns ${col + 1} and ${again + 1}); rename one so that the column to route is unambiguous`,
        );
      }
      if (this.csv) this.csv.column = col;
      if (r.raw) this.headerRaw = r.raw;
      return;
    }
    const size = r.field.length;
    this.room(size);
    const local = this.text.count;
    if (r.error !== undefined) this.fail(local, r.line, r.error);
    else if (r.blank) this.text.pushEmpty();
    else if (r.fieldCount <= (this.csv?.column ?? 0)) this.fail(local, r.line, `missing field "${this.fieldName}" (the row has ${r.fieldCount} field${r.fieldCount === 1 ? '' : 's'})`);
    else this.text.push(r.field, 0, size);
    if (this.raw) {
      if (r.error === undefined && r.raw) this.raw.push(r.raw, 0, r.raw.length);
      else this.raw.pushEmpty();
    }
    this.line = r.line;
    this.added();
  }

  private fail(local: number, line: number, message: string): void {
    this.errors.push({ local, line, message });
    this.text.pushEmpty();
    if (this.opts.stopAtError) this.stopped = true;
  }

  /**
   * Makes room for a record of `size` bytes: flushes the batch if it would overflow. A batch is
   * weighed by everything it will hold per record, not only its text: the raw bytes kept for
   * --shards, and RECORD_OVERHEAD_BYTES for offsets, results and formatted output.
   */
  private room(size: number): void {
    if (this.text.count === 0) return;
    const weight = this.text.byteLength + (this.raw?.byteLength ?? 0) + RECORD_OVERHEAD_BYTES * this.text.count;
    const adds = size * (this.raw ? 2 : 1) + RECORD_OVERHEAD_BYTES;
    if (weight + adds > this.opts.batchBytes || this.text.count >= this.opts.batchRecords) this.flush();
  }

  private added(): void {
    this.nextIndex++;
    if (this.opts.format !== 'csv' && this.opts.format !== 'tsv') this.line++;
  }

  private flush(): void {
    const cap = Math.min(this.opts.batchBytes, 1 << 20);
    const recCap = initialRecords(this.opts);
    const count = this.text.count;
    const batch: RecordBatch = {
      firstIndex: this.batchStart,
      count,
      text: this.text.take(cap, recCap),
      errors: this.errors,
      inputBytes: this.pendingInputBytes,
    };
    if (this.raw) batch.raw = this.raw.take(cap, recCap);
    this.ready.push(batch);
    this.errors = [];
    this.pendingInputBytes = 0;
    this.batchStart = this.nextIndex;
  }
}

function stripBom(b: Uint8Array): Uint8Array {
  return b.length >= 3 && b[0] === BOM[0] && b[1] === BOM[1] && b[2] === BOM[2] ? b.subarray(3) : b;
}
