/**
 * Splits a packed batch into pieces that fit the device: groups of strings
 * (whose statistics records fit one binding), byte windows within a group
 * (each uploaded and counted by one statistics dispatch) and work items
 * within a window (at most `chunkBytes` bytes each, so a 50 MB string is
 * counted by thousands of invocations instead of one).
 */
import { ConfigError } from '../../errors.js';
import { STATS_STRIDE } from '../../model/complexity-model.js';
import { NO_PREVIOUS_BYTE } from '../cpu-reference/statistics.js';

export interface PlanLimits {
  /** Most bytes one work item (one invocation) counts. */
  chunkBytes: number;
  /** Most bytes uploaded for one statistics dispatch; a multiple of 4. */
  windowBytes: number;
  /** Most work items in one statistics dispatch. */
  itemsPerWindow: number;
  /** Most strings whose statistics live on the GPU at once. */
  stringsPerGroup: number;
  /** Most workgroups along one dispatch dimension. */
  workgroupsPerDimension: number;
}

export const ITEM_WORDS = 4;
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
    itemsPerWindow: Math.min(1 << 20, Math.floor(binding / (ITEM_WORDS * 4))),
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

/** One statistics dispatch: bytes[byteStart, byteStart + byteLength) and its work items. */
export interface Window {
  byteStart: number;
  byteLength: number;
  /** ITEM_WORDS u32 per item; only the first itemCount items are valid. Reused between windows. */
  items: Uint32Array;
  itemCount: number;
}

const alignDown4 = (x: number): number => x - (x % 4);
const alignUp4 = (x: number): number => x + ((4 - (x % 4)) % 4);

/**
 * Yields the windows of strings [first, end). The items array is reused:
 * consume (upload) each window before asking for the next.
 */
export function* planWindows(
  bytes: Uint8Array,
  offsets: Uint32Array,
  first: number,
  end: number,
  limits: PlanLimits,
  items: Uint32Array,
): Generator<Window> {
  let wStart = alignDown4(offsets[first]);
  let wEnd = wStart;
  let count = 0;
  const flush = (): Window => {
    const w = { byteStart: wStart, byteLength: alignUp4(wEnd) - wStart, items, itemCount: count };
    count = 0;
    return w;
  };
  for (let s = first; s < end; s++) {
    const stringStart = offsets[s];
    const stringEnd = offsets[s + 1];
    let pos = stringStart;
    while (pos < stringEnd) {
      if (pos >= wStart + limits.windowBytes) {
        if (count > 0) yield flush();
        wStart = alignDown4(pos);
      }
      const chunkEnd = Math.min(stringEnd, pos + limits.chunkBytes, wStart + limits.windowBytes);
      const k = count * ITEM_WORDS;
      items[k] = s - first;
      items[k + 1] = pos - wStart;
      items[k + 2] = chunkEnd - wStart;
      items[k + 3] = pos === stringStart ? NO_PREVIOUS_BYTE : bytes[pos - 1];
      count++;
      wEnd = chunkEnd;
      pos = chunkEnd;
      if (count === limits.itemsPerWindow) {
        yield flush();
        wStart = alignDown4(pos);
      }
    }
  }
  if (count > 0) yield flush();
}

/** Workgroup grid for `workgroups` groups: 1D while it fits, else folded into 2D. */
export function workgroupGrid(workgroups: number, perDimension: number): [number, number] {
  if (workgroups <= perDimension) return [workgroups, 1];
  const y = Math.ceil(workgroups / perDimension);
  if (y > perDimension) throw new RangeError(`${workgroups} workgroups exceed a ${perDimension} x ${perDimension} grid`);
  return [perDimension, y];
}
