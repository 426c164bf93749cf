/**
 * Cuts a byte stream into chunks that end at an LF (the last one at the end
 * of the input), about `target` bytes each, so that each chunk holds whole
 * lines and can be parsed on its own. Lines longer than a chunk make the chunk
 * longer: a record is never split.
 */
const LF = 10;

export async function* lineAlignedChunks(source: AsyncIterable<Uint8Array>, target: number): AsyncGenerator<Uint8Array> {
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
  for await (const chunk of source) {
    if (chunk.length === 0) continue;
    const nl = chunk.lastIndexOf(LF);
    if (nl >= 0) lastLineEnd = held + nl + 1;
    parts.push(chunk);
    held += chunk.length;
    if (held >= target && lastLineEnd > 0) {
      yield take(lastLineEnd);
      lastLineEnd = 0;
    }
  }
  if (held > 0) yield take(held);
}
