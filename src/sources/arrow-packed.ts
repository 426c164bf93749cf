/**
 * Arrow string columns as the engine's packed batch, without apache-arrow as
 * a dependency: the helper reads the column's buffers through the few fields
 * every Arrow JS `Data` has (duck typing), so it works with any apache-arrow
 * version the caller uses, and the library's types do not mention Arrow.
 *
 * A Utf8 (or Binary) chunk becomes a packed batch with no copy of its bytes:
 * its values are the bytes and its i32 offsets are the u32 offsets (a slice
 * whose first offset is not 0 gets rebased offsets, n + 1 integers). LargeUtf8
 * (64-bit offsets), Utf8View and dictionary-encoded strings are copied.
 */
import { ConfigError } from '../errors.js';
import { MAX_PACKED_BYTES, type PackedBatch } from '../model/packed-batch.js';
import { PackedBuilder } from './packed-builder.js';

/** Arrow type ids (apache-arrow's `Type` enum, from the Arrow format's Schema.fbs). */
const TYPE = { Binary: 4, Utf8: 5, Struct: 13, LargeBinary: 19, LargeUtf8: 20, BinaryView: 23, Utf8View: 24, Dictionary: -1 } as const;

/** The fields of an apache-arrow `Data` chunk that the helper reads. */
export interface ArrowDataLike {
  readonly type: { readonly typeId: number; readonly children?: readonly { readonly name: string }[] | null };
  readonly length: number;
  /** Position of the first value in the validity bitmap (slices keep the parent's bitmap). */
  readonly offset: number;
  readonly nullCount: number;
  readonly nullBitmap?: Uint8Array | null;
  readonly valueOffsets?: Int32Array | BigInt64Array | null;
  /** Utf8/Binary: value bytes; Utf8View: the 16-byte views; Dictionary: the indices. */
  readonly values?: ArrayBufferView | null;
  readonly variadicBuffers?: readonly Uint8Array[];
  readonly children?: readonly ArrowDataLike[];
  readonly dictionary?: ArrowVectorLike | null;
}

/** The fields of an apache-arrow `Vector` that the helper reads: its chunks. */
export interface ArrowVectorLike {
  readonly data: readonly ArrowDataLike[];
  readonly length: number;
}

/** A packed batch from an Arrow column; null values are empty strings listed in `nulls`. */
export interface ArrowPackedBatch extends PackedBatch {
  /** Indexes (0-based, in the vector) of null values. Route them only if an empty string is what you mean. */
  nulls: number[];
}

const typeName = (id: number): string => Object.entries(TYPE).find(([, v]) => v === id)?.[0] ?? `type id ${id}`;

function isNull(d: ArrowDataLike, i: number): boolean {
  if (d.nullCount === 0 || !d.nullBitmap || d.nullBitmap.length === 0) return false;
  const pos = d.offset + i;
  return (d.nullBitmap[pos >> 3] & (1 << (pos & 7))) === 0;
}

function nullsOf(d: ArrowDataLike, base: number, into: number[]): void {
  if (d.nullCount === 0 || !d.nullBitmap || d.nullBitmap.length === 0) return;
  for (let i = 0; i < d.length; i++) if (isNull(d, i)) into.push(base + i);
}

function bytesOf(v: ArrayBufferView): Uint8Array {
  return v instanceof Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

function isStringType(id: number): boolean {
  return id === TYPE.Utf8 || id === TYPE.Binary || id === TYPE.LargeUtf8 || id === TYPE.LargeBinary || id === TYPE.Utf8View || id === TYPE.BinaryView;
}

/** One Utf8/Binary chunk with 32-bit offsets: its own buffers, no byte copied. */
function zeroCopy(d: ArrowDataLike): PackedBatch {
  const vo = d.valueOffsets as Int32Array;
  const values = bytesOf(d.values ?? new Uint8Array(0));
  const n = d.length;
  const first = n > 0 ? vo[0] : 0;
  const last = n > 0 ? vo[n] : 0;
  if (first === 0) {
    return { bytes: values.subarray(0, last), offsets: new Uint32Array(vo.buffer, vo.byteOffset, n + 1) };
  }
  const offsets = new Uint32Array(n + 1);
  for (let i = 0; i <= n; i++) offsets[i] = vo[i] - first;
  return { bytes: values.subarray(first, last), offsets };
}

/** Appends the values of one chunk (any string layout) to a builder, copying. */
function appendChunk(d: ArrowDataLike, out: PackedBuilder): void {
  const id = d.type.typeId;
  if (id === TYPE.Dictionary) {
    const dict = d.dictionary;
    if (!dict || dict.data.length === 0 || !isStringType(dict.data[0].type.typeId)) throw new ConfigError('an Arrow dictionary column routes only when its dictionary holds strings');
    const words = packedFromArrow(dict);
    const idx = d.values as unknown as ArrayLike<number | bigint>;
    for (let i = 0; i < d.length; i++) {
      if (isNull(d, i)) out.pushEmpty();
      else {
        const k = Number(idx[i]);
        out.push(words.bytes, words.offsets[k], words.offsets[k + 1]);
      }
    }
    return;
  }
  if (id === TYPE.Utf8View || id === TYPE.BinaryView) {
    const views = bytesOf(d.values ?? new Uint8Array(0));
    const dv = new DataView(views.buffer, views.byteOffset, views.byteLength);
    for (let i = 0; i < d.length; i++) {
      const at = i * 16;
      const len = dv.getInt32(at, true);
      if (isNull(d, i)) out.pushEmpty();
      else if (len <= 12) out.push(views, at + 4, at + 4 + len);
      else {
        const buf = d.variadicBuffers?.[dv.getInt32(at + 8, true)];
        if (!buf) throw new ConfigError(`Arrow ${typeName(id)} value ${i} points to a missing data buffer`);
        const off = dv.getInt32(at + 12, true);
        out.push(buf, off, off + len);
      }
    }
    return;
  }
  const vo = d.valueOffsets;
  if (!vo) throw new ConfigError(`Arrow ${typeName(id)} chunk has no value offsets`);
  const values = bytesOf(d.values ?? new Uint8Array(0));
  for (let i = 0; i < d.length; i++) {
    const s = Number(vo[i]);
    const e = Number(vo[i + 1]);
    if (e - s > MAX_PACKED_BYTES) throw new ConfigError(`Arrow value ${i} is ${e - s} bytes; one record holds at most ${MAX_PACKED_BYTES}`);
    out.push(values, s, e);
  }
}

function checkType(d: ArrowDataLike): void {
  const id = d.type.typeId;
  if (!isStringType(id) && id !== TYPE.Dictionary) {
    throw new ConfigError(`an Arrow column of ${typeName(id)} values cannot be routed: it must hold strings (Utf8, LargeUtf8, Utf8View, Binary, or a dictionary of strings)`);
  }
}

/**
 * The packed batch of one Arrow chunk (`Data`) or of a whole vector (its chunks, in order).
 * Zero-copy for a vector of one Utf8/Binary chunk; a copy otherwise.
 */
export function packedFromArrow(column: ArrowVectorLike | ArrowDataLike): ArrowPackedBatch {
  const chunks: readonly ArrowDataLike[] = 'data' in column && Array.isArray(column.data) ? column.data : [column as ArrowDataLike];
  for (const d of chunks) checkType(d);
  const nulls: number[] = [];
  let base = 0;
  for (const d of chunks) {
    nullsOf(d, base, nulls);
    base += d.length;
  }
  if (chunks.length === 1 && (chunks[0].type.typeId === TYPE.Utf8 || chunks[0].type.typeId === TYPE.Binary)) {
    return { ...zeroCopy(chunks[0]), nulls };
  }
  if (chunks.length === 0) return { bytes: new Uint8Array(0), offsets: new Uint32Array(1), nulls };
  const out = new PackedBuilder(1 << 16, Math.max(1, base));
  for (const d of chunks) appendChunk(d, out);
  return { ...out.take(16, 1), nulls };
}

/** The child column at a dotted path inside a struct chunk, with whether each row's parents are null. */
export function arrowChild(d: ArrowDataLike, path: readonly string[], name: string): { data: ArrowDataLike; parents: ArrowDataLike[] } {
  const parents: ArrowDataLike[] = [];
  let cur = d;
  for (const key of path) {
    if (cur.type.typeId !== TYPE.Struct) throw new ConfigError(`no column "${name}": "${key}" is looked up in a ${typeName(cur.type.typeId)} column, not a struct`);
    const names = (cur.type.children ?? []).map((c) => c.name);
    const k = names.indexOf(key);
    if (k < 0 || !cur.children) throw new ConfigError(`no column "${name}" (fields of the struct: ${names.join(', ')})`);
    parents.push(cur);
    cur = cur.children[k];
  }
  return { data: cur, parents };
}

/** Whether row i is null in the column or in any struct above it. */
export function arrowIsNull(data: ArrowDataLike, parents: readonly ArrowDataLike[], i: number): boolean {
  return isNull(data, i) || parents.some((p) => isNull(p, i));
}
