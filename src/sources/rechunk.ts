/**
 * Cuts a byte stream into chunks that end at an LF (the last one at the end
 * of the input), about `target` bytes each, so that each chunk holds whole
 * lines and can be parsed on its own. Lines longer than a chunk make the chunk
 * longer: a record is never split.
 */
const LF = 10;

/** Position just after the last LF at or before `target`, else just after the first LF past it (-1: no LF). */
export function cutNear(parts: readonly Uint8Array[], target: number): number {
  const starts: number[] = [];
  let at = 0;
  for (const p of parts) {
    starts.push(at);
    at += p.length;
  }
  // The part that holds byte target - 1: look back from it, then forward.
  const k = starts.findLastIndex((s) => s < target);
  for (let i = k; i >= 0; i--) {
    const from = i === k ? target - 1 - starts[i] : parts[i].length - 1;
    const nl = from >= 0 ? parts[i].lastIndexOf(LF, from) : -1;
    if (nl >= 0) return starts[i] + nl + 1;
  }
  for (let i = Math.max(0, k); i < parts.length; i++) {
    const nl = parts[i].indexOf(LF, i === k ? target - starts[i] : 0);
    if (nl >= 0) return starts[i] + nl + 1;
  }
  return -1;
}

const IDLE = Symbol('idle');

/** The source's chunks, with IDLE whenever none came for `idleMs` (the pending read is kept, never lost). */
async function* withIdleTicks(source: AsyncIterable<Uint8Array>, idleMs: number): AsyncGenerator<Uint8Array | typeof IDLE> {
  const it = source[Symbol.asyncIterator]();
  let next: Promise<IteratorResult<Uint8Array>> | null = null;
  try {
    for (;;) {
      next ??= it.next();
      let timer: NodeJS.Timeout | undefined;
      const idle = new Promise<typeof IDLE>((resolve) => (timer = setTimeout(() => resolve(IDLE), idleMs)));
      const got = await Promise.race([next, idle]);
      clearTimeout(timer);
      if (got === IDLE) {
        yield IDLE;
        continue;
      }
      next = null;
      if (got.done) return;
      yield got.value;
    }
  } finally {
    await it.return?.();
  }
}

export interface Chunk {
  bytes: Uint8Array;
  /** Bytes of an over-long record dropped after this chunk (resync at the next LF). */
  skippedBytes: number;
}

/**
 * A line longer than `maxRecordBytes` is cut after that many bytes: its head
 * ends a chunk (the worker's reader reports the record as too long) and the
 * rest is dropped up to its LF, so memory stays bounded even on an input with
 * no LF at all (/dev/zero). `stop()` ends reading early (a run that failed).
 */
export async function* lineAlignedChunks(
  source: AsyncIterable<Uint8Array>,
  target: number,
  maxRecordBytes: number,
  stop: () => boolean,
  idleMs = 100,
): AsyncGenerator<Chunk> {
  let parts: Uint8Array[] = [];
  let held = 0;
  const take = (upTo: number): Uint8Array => {
    // One copy into a fresh buffer the worker can own (transferred, not cloned).
    const out = new Uint8Array(upTo);
    let at = 0;
    const rest: Uint8Array[] = [];
    for (const p of parts) {
      if (at + p.length <= upTo) {
        out.set(p, at);
        at += p.length;
      } else if (at < upTo) {
        const n = upTo - at;
        out.set(p.subarray(0, n), at);
        at = upTo;
        rest.push(p.subarray(n));
      } else {
        rest.push(p);
      }
    }
    parts = rest;
    held -= upTo;
    return out;
  };
  // Position just after the last LF held (0: none); the bytes after it hold no LF.
  let lastLineEnd = 0;
  let skipping = false;
  // Dropped bytes are counted with the next chunk handed over (input byte totals stay exact).
  let skipped = 0;
  const chunkOf = (bytes: Uint8Array): Chunk => {
    const c = { bytes, skippedBytes: skipped };
    skipped = 0;
    return c;
  };
  for await (const item of withIdleTicks(source, idleMs)) {
    if (stop()) return;
    if (item === IDLE) {
      // A slow pipe: hand over the whole lines held so far rather than wait for a full chunk.
      if (lastLineEnd > 0) {
        yield chunkOf(take(lastLineEnd));
        lastLineEnd = 0;
      }
      continue;
    }
    let chunk = item;
    if (skipping) {
      const nl = chunk.indexOf(LF);
      skipped += nl < 0 ? chunk.length : nl + 1;
      if (nl < 0) continue;
      skipping = false;
      chunk = chunk.subarray(nl + 1);
    }
    if (chunk.length === 0) continue;
    const nl = chunk.lastIndexOf(LF);
    if (nl >= 0) lastLineEnd = held + nl + 1;
    parts.push(chunk);
    held += chunk.length;
    if (held - lastLineEnd > maxRecordBytes) {
      // The unfinished line is too long: hand over its head, drop the rest up to its LF.
      yield chunkOf(take(held));
      lastLineEnd = 0;
      skipping = true;
      continue;
    }
    // Chunks of about `target` bytes: cut at the last LF before it, or the first after it (a long line).
    while (held >= target && lastLineEnd > 0) {
      const cut = cutNear(parts, target);
      yield chunkOf(take(cut));
      lastLineEnd = Math.max(0, lastLineEnd - cut);
    }
  }
  if (held > 0 || skipped > 0) yield chunkOf(take(held));
}
