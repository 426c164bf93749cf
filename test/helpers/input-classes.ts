/**
 * The input classes every exactness test runs (GPU == reference, fast CPU ==
 * reference): byte soup and text of every length, awkward strings, invalid
 * UTF-8. Defined once so that both backends face the same cases.
 */
import { PIECES, packBytes, randomBytes, randomInt, rng } from './random.js';
import type { PackedBatch } from '../../src/index.js';

/** Random bytes of every length 0..maxLength (seeded). */
export function byteSoupEveryLength(maxLength: number): PackedBatch {
  const r = rng(2024);
  return packBytes(Array.from({ length: maxLength + 1 }, (_, n) => randomBytes(r, n)));
}

/** Random text from PIECES of every UTF-8 length 0..maxLength (seeded). */
export function textEveryLength(maxLength: number): string[] {
  const r = rng(2024);
  const out: string[] = [];
  for (let n = 0; n <= maxLength; n++) {
    let s = '';
    while (Buffer.byteLength(s) < n) s += PIECES[randomInt(r, PIECES.length)];
    out.push(s);
  }
  return out;
}

export const AWKWARD = [
  '', '\0', '\0\0\0', 'a\0b', '\r\n', 'line\r\n', '\r', '\t\t', ' leading', 'trailing ', '   ',
  '🎉', '👨‍👩‍👧‍👦', '🏳️‍🌈 flag', '東京は日本の首都です。', '机器学习', '한국어 텍스트', 'e\u0301te\u0301', 'a\u0300\u0301\u0302',
  'مرحبا بالعالم', 'שלום עולם', '\u202eevil\u202c', 'नमस्ते', '\ufeffBOM', '\u{10ffff}', '\ud800', 'x'.repeat(1025),
];

export const INVALID_UTF8: Uint8Array[] = [
  [0x80], [0xbf, 0xbf], [0xc3], [0xe6, 0x97], [0xf0, 0x9f, 0x8e], [0xff, 0xfe, 0x00], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0x61, 0x80, 0x61],
].map((b) => Uint8Array.from(b));
