/**
 * `--shard I/N`: part I (0-based, 0 <= I < N) of a file, split on record
 * boundaries. A record boundary is offset 0, the offset just after an LF, or
 * the end of the file. Part I starts at the first boundary at or after
 * floor(size * I / N) and ends where part I + 1 starts (part N - 1 ends at
 * the end of the file): the parts never overlap and leave no gap. Indexes
 * stay global: the records (LFs) before the part's start are counted.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { ConfigError } from '../errors.js';

export interface ShardSpec {
  index: number;
  count: number;
}

export interface ShardRange {
  start: number;
  end: number;
  /** LFs in [0, start): the number of records (lines) before the part. */
  linesBefore: number;
}

export function parseShard(text: string): ShardSpec {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!m) throw new ConfigError(`--shard must be I/N (part I of N, 0-based: 0/4 .. 3/4), got "${text}"`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || index >= count) throw new ConfigError(`--shard ${text}: I must be in 0..N-1 (0-based) and N >= 1`);
  return { index, count };
}

const LF = 10;

/** First record boundary at or after `pos`. */
async function boundaryAtOrAfter(fh: FileHandle, pos: number, size: number): Promise<number> {
  if (pos <= 0) return 0;
  if (pos >= size) return size;
  const buf = Buffer.allocUnsafe(1 << 16);
  let at = pos - 1; // a boundary at pos means the byte before it is an LF
  while (at < size) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - at), at);
    if (bytesRead === 0) break;
    const nl = buf.subarray(0, bytesRead).indexOf(LF);
    if (nl >= 0) return at + nl + 1;
    at += bytesRead;
  }
  return size;
}

/** Counts LFs in [0, end). */
async function countLines(fh: FileHandle, end: number): Promise<number> {
  const buf = Buffer.allocUnsafe(1 << 22);
  let n = 0;
  let at = 0;
  while (at < end) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, end - at), at);
    if (bytesRead === 0) break;
    const view = buf.subarray(0, bytesRead);
    let i = view.indexOf(LF);
    while (i >= 0) {
      n++;
      i = view.indexOf(LF, i + 1);
    }
    at += bytesRead;
  }
  return n;
}

export async function shardRange(path: string, size: number, spec: ShardSpec): Promise<ShardRange> {
  const fh = await open(path, 'r');
  try {
    const start = await boundaryAtOrAfter(fh, Math.floor((size * spec.index) / spec.count), size);
    const end = spec.index + 1 === spec.count ? size : await boundaryAtOrAfter(fh, Math.floor((size * (spec.index + 1)) / spec.count), size);
    const linesBefore = start === 0 ? 0 : await countLines(fh, start);
    return { start, end: Math.max(start, end), linesBefore };
  } finally {
    await fh.close();
  }
}

/** The first line of a file (without its line end), for csv/tsv headers of parts after the first. */
export async function readFirstLine(path: string): Promise<Uint8Array> {
  const fh = await open(path, 'r');
  try {
    const parts: Buffer[] = [];
    const buf = Buffer.allocUnsafe(1 << 16);
    let at = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, at);
      if (bytesRead === 0) break;
      const view = buf.subarray(0, bytesRead);
      const nl = view.indexOf(LF);
      if (nl >= 0) {
        parts.push(Buffer.from(view.subarray(0, nl > 0 && view[nl - 1] === 13 ? nl - 1 : nl)));
        break;
      }
      parts.push(Buffer.from(view));
      at += bytesRead;
    }
    return Buffer.concat(parts);
  } finally {
    await fh.close();
  }
}
