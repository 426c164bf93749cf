/**
 * Splits a packed batch into pieces that fit the device: groups of strings
 * (whose statistics records fit one binding), byte windows within a group
 * (each uploaded and counted by one statistics dispatch) and blocks within a
 * window (chunkBytes each, one invocation per block, so a 50 MB string is
 * counted by thousands of invocations and a block of short lines counts tens
 * of strings). Nothing here is per string: the host uploads the bytes and
 * the offsets it was given, and the shader derives the split.
 */
import { ConfigError } from '../../errors.js';
import { STATS_STRIDE } from '../../model/complexity-model.js';

export interface PlanLimits {
  /** Bytes one invocation (one block) counts; the last block of a window may be shorter. */
  chunkBytes: number;
  /** Most bytes uploaded for one statistics dispatch; a multiple of 4. */
  windowBytes: number;
  /** Most invocations (blocks) in one statistics dispatch. */
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

/**
 * One statistics dispatch. The upload is bytes[byteStart, byteStart +
 * byteLength) (4-aligned, a multiple of 4, at most windowBytes); the
 * dispatch counts [activeStart, activeEnd) in `blocks` blocks of chunkBytes.
 * byteStart is below activeStart whenever a string goes on across
 * activeStart, so the byte before it (which sets the first class transition)
 * is uploaded too. All positions are absolute in the batch's bytes.
 */
export interface Window {
  byteStart: number;
  byteLength: number;
  activeStart: number;
  activeEnd: number;
  blocks: number;
}

const alignDown4 = (x: number): number => x - (x % 4);
const alignUp4 = (x: number): number => x + ((4 - (x % 4)) % 4);

/**
 * The windows of strings [first, end): byte ranges only, so planning costs
 * nothing per string. The shader finds each block's strings in the offsets.
 */
export function planWindows(offsets: Uint32Array, first: number, end: number, limits: PlanLimits): Window[] {
  const out: Window[] = [];
  const groupEnd = offsets[end];
  const blockBytes = limits.chunkBytes * limits.itemsPerWindow;
  for (let pos = offsets[first]; pos < groupEnd; ) {
    // Only pos > offsets[first] can be inside a string; one byte more then.
    const byteStart = alignDown4(pos > offsets[first] ? pos - 1 : pos);
    const activeEnd = Math.min(groupEnd, byteStart + limits.windowBytes, pos + blockBytes);
    out.push({
      byteStart,
      byteLength: alignUp4(activeEnd) - byteStart,
      activeStart: pos,
      activeEnd,
      blocks: Math.ceil((activeEnd - pos) / limits.chunkBytes),
    });
    pos = activeEnd;
  }
  return out;
}

/** Workgroup grid for `workgroups` groups: 1D while it fits, else folded into 2D. */
export function workgroupGrid(workgroups: number, perDimension: number): [number, number] {
  if (workgroups <= perDimension) return [workgroups, 1];
  const y = Math.ceil(workgroups / perDimension);
  if (y > perDimension) throw new RangeError(`${workgroups} workgroups exceed a ${perDimension} x ${perDimension} grid`);
  return [perDimension, y];
}
