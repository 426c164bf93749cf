/**
 * What the first bytes of an input say it is, whatever its name says. Text
 * formats (lines, jsonl, csv, tsv) have no magic; everything else must not be
 * split on LF bytes and routed as if it were text.
 */
export type ContainerKind = 'gzip' | 'zstd' | 'bzip2' | 'xz' | 'zip' | 'parquet' | 'arrow-file' | 'arrow-stream' | 'utf8-bom' | 'text';

/** Bytes needed to tell every kind apart. */
export const MAGIC_BYTES = 10;

const startsWith = (b: Uint8Array, sig: readonly number[]): boolean => b.length >= sig.length && sig.every((x, i) => b[i] === x);

const BZ_BLOCK = [0x31, 0x41, 0x59, 0x26, 0x53, 0x59]; // pi
const BZ_END = [0x17, 0x72, 0x45, 0x38, 0x50, 0x90]; // sqrt(pi)

export function detectContainer(head: Uint8Array): ContainerKind {
  if (startsWith(head, [0x1f, 0x8b])) return 'gzip';
  if (startsWith(head, [0x28, 0xb5, 0x2f, 0xfd])) return 'zstd';
  // "BZh" is also how a line of text may start: a bzip2 stream is "BZh", a block size 1..9, then a block or end-of-stream magic
  if (startsWith(head, [0x42, 0x5a, 0x68]) && head[3] >= 0x31 && head[3] <= 0x39 && (startsWith(head.subarray(4), BZ_BLOCK) || startsWith(head.subarray(4), BZ_END))) return 'bzip2';
  if (startsWith(head, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) return 'xz';
  if (startsWith(head, [0x50, 0x4b, 0x03, 0x04])) return 'zip';
  if (startsWith(head, [0x50, 0x41, 0x52, 0x31])) return 'parquet'; // PAR1
  if (startsWith(head, [0x41, 0x52, 0x52, 0x4f, 0x57, 0x31, 0, 0])) return 'arrow-file'; // ARROW1 and its two padding bytes (text rarely holds NUL)
  // Arrow IPC stream: a continuation marker 0xFFFFFFFF, then the metadata length.
  if (startsWith(head, [0xff, 0xff, 0xff, 0xff]) && head.length >= 8) return 'arrow-stream';
  if (startsWith(head, [0xef, 0xbb, 0xbf])) return 'utf8-bom';
  return 'text';
}
