/** Seeded PRNG (mulberry32) so failures reproduce: the dashboard's own. */
export { seededRandom as rng } from '../../src/dashboard/aggregates.js';

export function randomInt(r: () => number, n: number): number {
  return Math.floor(r() * n);
}

/** Pieces of text from many scripts and classes, including the awkward ones. */
export const PIECES = [
  'a', 'Z', 'word', 'Programming', '42', '3.14', ' ', '  ', '\t', '\n', '\r\n', '\r', '\0', '\x1b', '\x7f',
  '@#$%^&*', '()', '{}', '->', '==', '"', "'", '\\', 'é', 'e\u0301', 'ß', 'Ω', 'Я', '東京', '机器学习', '한국어',
  'مرحبا', 'שלום', '\u200f', '\u202e', 'नमस्ते', '🎉', '👍🏽', '👨‍👩‍👧', '\u{10ffff}', '\ufeff', '\ufffd', 'x=1;', 'fn(a,b)',
];

export function randomText(r: () => number, maxPieces: number): string {
  const n = randomInt(r, maxPieces + 1);
  let s = '';
  for (let i = 0; i < n; i++) s += PIECES[randomInt(r, PIECES.length)];
  return s;
}

/** Raw bytes, any value, so also invalid UTF-8 (stray continuation bytes, truncated sequences, 0xFF). */
export function randomBytes(r: () => number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = randomInt(r, 256);
  return out;
}

export function packBytes(parts: readonly Uint8Array[]): { bytes: Uint8Array; offsets: Uint32Array } {
  const offsets = new Uint32Array(parts.length + 1);
  for (let i = 0; i < parts.length; i++) offsets[i + 1] = offsets[i] + parts[i].length;
  const bytes = new Uint8Array(offsets[parts.length]);
  parts.forEach((p, i) => bytes.set(p, offsets[i]));
  return { bytes, offsets };
}
