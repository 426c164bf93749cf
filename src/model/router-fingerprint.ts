/**
 * What a run was routed with, recorded in --stats so that merge-stats can
 * refuse to add up parts routed under different configs. The fingerprint
 * covers everything that decides an expert: the expert count, the Q16
 * boundaries, each feature's definition, integer weight and cap, and the
 * byte-class tables; the readable fields let a message say what differs.
 * Pure JS (no node:crypto): the model stays usable outside Node.
 */
import { BYTE_CLASS_TABLE, FEATURE_KIND, MIX_CLASS_TABLE, type FeatureName } from './complexity-model.js';
import type { RouterConfig } from './router-config.js';

export interface RouterFingerprint {
  /** 16 hex digits (FNV-1a 64) of everything that decides an expert. */
  fingerprint: string;
  numExperts: number;
  /** The boundaries routing compares against (Q16), not the floats they came from. */
  boundariesQ16: number[];
  /** Normalised weights (sum 1), from the integer weights routing uses. */
  weights: Partial<Record<FeatureName, number>>;
  /** Caps of the capped features (ratios have none). */
  caps: Partial<Record<FeatureName, number>>;
}

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK64 = 0xffffffffffffffffn;

/** FNV-1a, 64 bits: a stable, dependency-free hash of a short canonical text (not a security boundary). */
function fnv1a64(text: string): string {
  let h = FNV_OFFSET;
  for (const b of new TextEncoder().encode(text)) {
    h ^= BigInt(b);
    h = (h * FNV_PRIME) & MASK64;
  }
  return h.toString(16).padStart(16, '0');
}

export function routerFingerprint(config: RouterConfig): RouterFingerprint {
  const { features, weightsInt, weightSum } = config.model;
  const weights: Partial<Record<FeatureName, number>> = {};
  const caps: Partial<Record<FeatureName, number>> = {};
  features.forEach((f, i) => {
    weights[f.name] = weightsInt[i] / weightSum;
    if (f.kind !== FEATURE_KIND.RATIO) caps[f.name] = f.cap;
  });
  const canonical = JSON.stringify({
    numExperts: config.numExperts,
    boundariesQ16: config.boundariesQ16,
    features: features.map((f, i) => [f.name, f.kind, f.num, f.den, f.cap, weightsInt[i]]),
    weightSum,
    byteClasses: Array.from(BYTE_CLASS_TABLE),
    mixClasses: Array.from(MIX_CLASS_TABLE),
  });
  return { fingerprint: fnv1a64(canonical), numExperts: config.numExperts, boundariesQ16: [...config.boundariesQ16], weights, caps };
}

/** What differs between two fingerprints, for a one-line message ('' when they are equal). */
export function describeFingerprintDifference(a: RouterFingerprint, b: RouterFingerprint): string {
  if (a.fingerprint === b.fingerprint) return '';
  if (a.numExperts !== b.numExperts) return `numExperts ${a.numExperts} vs ${b.numExperts}`;
  const i = a.boundariesQ16.findIndex((x, k) => x !== b.boundariesQ16[k]);
  if (i >= 0) return `boundaries differ (boundary ${i + 1}: ${a.boundariesQ16[i] / 65536} vs ${b.boundariesQ16[i] / 65536})`;
  for (const name of Object.keys({ ...a.weights, ...b.weights }) as FeatureName[]) {
    if (a.weights[name] !== b.weights[name]) return `weight of "${name}" ${fmt(a.weights[name])} vs ${fmt(b.weights[name])}`;
  }
  for (const name of Object.keys({ ...a.caps, ...b.caps }) as FeatureName[]) {
    if (a.caps[name] !== b.caps[name]) return `cap of "${name}" ${a.caps[name] ?? 'none'} vs ${b.caps[name] ?? 'none'}`;
  }
  return `the complexity model differs (fingerprint ${a.fingerprint} vs ${b.fingerprint}: another moe-router version?)`;
}

function fmt(w: number | undefined): string {
  return w === undefined ? 'none' : String(Number(w.toFixed(6)));
}
