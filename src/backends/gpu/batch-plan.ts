/**
 * Splits a packed batch into pieces that fit the device: groups of strings
 * (whose statistics records fit one binding), byte windows within a group
 * (each uploaded and counted by one statistics dispatch) and invocations within a
 * window: one invocation per short string, found by the shader from the
 * offsets the host was given, and one per chunkBytes of a long string, from
 * a small table (so a 50 MB string is counted by thousands of invocations).
 * The upload is the raw bytes, the offsets (4 bytes per string) and that
 * table (16 bytes per chunk of long strings only).
 */
import { ConfigError } from '../../errors.js';
import { STATS_STRIDE } from '../../model/complexity-model.js';

export interface PlanLimits {
  /** Most bytes one invocation counts: longer strings are split into pieces of this size. */
  chunkBytes: number;
  /** Most bytes uploaded for one statistics dispatch; a multiple of 4. */
  windowBytes: number;
  /** Most invocations (strings and pieces) in one statistics dispatch. */
  itemsPerWindow: number;
  /** Most strings whose statistics live on the GPU at once. */
  stringsPerGroup: number;
  /** Most workgroups along one dispatch dimension. */
  workgroupsPerDimension: number;
}

const MiB = 1024 * 1024;

/**
 * The device limits the plan reads: a structural subset of GPUSupportedLimits,
 * so that this module's public declarations need no WebGPU global types.
 */
export interface DeviceLimits {
  readonly maxStorageBufferBindingSize: number;
  readonly maxBufferSize: number;
  readonly maxComputeWorkgroupsPerDimension: number;
}

/** Limits for a device: as large as its bindings allow, bounded so memory stays modest. */
export function defaultPlanLimits(limits: DeviceLimits): PlanLimits {
  const binding = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  return {
    chunkBytes: 1024,
    windowBytes: Math.min(64 * MiB, binding) & ~3,
    itemsPerWindow: 1 << 20,
    stringsPerGroup: Math.min(1 << 19, Math.floor(binding / (STATS_STRIDE * 4))),
    workgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
  };
}

/**
 * The limits actually used: checked, and with windows and groups small enough
 * that their dispatch fits a perDimension x perDimension grid of workgroups.
 */
export function effectivePlanLimits(l: PlanLimits, workgroupSize: number): PlanLimits {
  validatePlanLimits(l);
  const grid = l.workgroupsPerDimension * l.workgroupsPerDimension * workgroupSize;
  return { ...l, itemsPerWindow: Math.min(l.itemsPerWindow, grid), stringsPerGroup: Math.min(l.stringsPerGroup, grid) };
}

/** Checks limits given in full or in part (a router's options), throwing ConfigError. */
export function validatePlanLimits(l: Partial<PlanLimits>): void {
  const positive = (v: number | undefined): boolean => v === undefined || (Number.isInteger(v) && v >= 1);
  const ok =
    positive(l.chunkBytes) &&
    positive(l.itemsPerWindow) &&
    positive(l.stringsPerGroup) &&
    positive(l.workgroupsPerDimension) &&
    (l.windowBytes === undefined || (Number.isInteger(l.windowBytes) && l.windowBytes >= 8 && l.windowBytes % 4 === 0));
  if (!ok) {
    throw new ConfigError(
      `invalid gpu.planLimits ${JSON.stringify(l)}: positive integers, windowBytes a multiple of 4 and at least 8`,
    );
  }
}

/** u32 per piece of a long string in a window's table: string (group-relative), first byte, end byte, 0. */
export const PIECE_WORDS = 4;

/**
 * One statistics dispatch: `heads` invocations count strings firstString ..
 * firstString + heads - 1 (of the group) whole, found from the offsets; a
 * string longer than the head limit is skipped there and counted by the
 * pieces of the table instead, one invocation each. The upload is
 * bytes[byteStart, byteStart + byteLength) (4-aligned, a multiple of 4, at
 * most windowBytes), and holds the byte before every piece that does not
 * start its string. Byte positions are absolute in the batch's bytes.
 */
export interface Window {
  byteStart: number;
  byteLength: number;
  firstString: number;
  heads: number;
  /** PIECE_WORDS u32 per piece. */
  pieces: Uint32Array;
}

const alignDown4 = (x: number): number => x - (x % 4);
const alignUp4 = (x: number): number => x + ((4 - (x % 4)) % 4);

/** Longest string one head invocation counts whole: a chunk, and no more than a window can hold. */
export function headBytes(limits: PlanLimits): number {
  return Math.min(limits.chunkBytes, limits.windowBytes - 4);
}

/**
 * The windows of strings [first, end). A short string costs one comparison
 * here and 4 bytes of upload (its offset); only strings longer than
 * headBytes get table entries, one per chunkBytes.
 */
export function planWindows(offsets: Uint32Array, first: number, end: number, limits: PlanLimits): Window[] {
  const out: Window[] = [];
  const { chunkBytes, windowBytes, itemsPerWindow } = limits;
  const headMax = headBytes(limits);
  let base = alignDown4(offsets[first]);
  let wEnd = base;
  let wFirst = first;
  let pieces: number[] = [];
  const headsBefore = (s: number): number => Math.max(0, s - wFirst);
  const flush = (sEnd: number): void => {
    const heads = headsBefore(sEnd);
    if (heads > 0 || pieces.length > 0) {
      out.push({ byteStart: base, byteLength: alignUp4(wEnd) - base, firstString: wFirst - first, heads, pieces: Uint32Array.from(pieces) });
    }
    pieces = [];
  };
  // The short-string test is the whole per-string cost: two bounds kept up to date outside it.
  let byteLimit = base + windowBytes;
  let headLimit = wFirst + itemsPerWindow; // heads may reach string headLimit - 1, less the pieces
  let a = offsets[first];
  for (let s = first; s < end; s++) {
    const b = offsets[s + 1];
    if (b - a <= headMax) {
      if (b > byteLimit || s + 1 > headLimit) {
        flush(s);
        wFirst = s;
        base = alignDown4(a);
        byteLimit = base + windowBytes;
        headLimit = wFirst + itemsPerWindow;
      }
      wEnd = b; // offsets never decrease: the last string ends the window
      a = b;
      continue;
    }
    // A long string: its head invocation (counted, as heads are a range) does nothing; after a
    // flush inside it the heads start past it, so one piece always fits a new window.
    for (let p = a; p < b; ) {
      if (p >= byteLimit || headsBefore(s + 1) + pieces.length / PIECE_WORDS + 1 > itemsPerWindow) {
        flush(s);
        wFirst = s + 1;
        base = alignDown4(p > a ? p - 1 : p);
        byteLimit = base + windowBytes;
        wEnd = base;
      }
      const pe = Math.min(b, p + chunkBytes, byteLimit);
      pieces.push(s - first, p, pe, 0);
      wEnd = pe;
      p = pe;
    }
    headLimit = wFirst + itemsPerWindow - pieces.length / PIECE_WORDS;
    a = b;
  }
  flush(end);
  return out;
}

/** Workgroup grid for `workgroups` groups: 1D while it fits, else folded into 2D. */
export function workgroupGrid(workgroups: number, perDimension: number): [number, number] {
  if (workgroups <= perDimension) return [workgroups, 1];
  const y = Math.ceil(workgroups / perDimension);
  if (y > perDimension) throw new RangeError(`${workgroups} workgroups exceed a ${perDimension} x ${perDimension} grid`);
  return [perDimension, y];
}
