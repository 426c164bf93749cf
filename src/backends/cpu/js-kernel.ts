/**
 * The fused kernel in plain JavaScript: the fallback where WebAssembly is
 * unavailable (or MOE_ROUTER_CPU_KERNEL=js). Same tables as kernel.c and the
 * model's own fixed-point helpers, so the same results as the reference, bit
 * for bit.
 *
 * V8 runs loops over module-level typed arrays at about half speed, so every
 * table is copied into a local before the hot loop.
 */
import { BYTE_CLASS, BYTE_CLASS_COUNT } from '../../model/complexity-model.js';
import { ONE, cappedQ16, meanCappedQ16, ratioQ16 } from '../../model/fixed-point.js';
import type { RouterConfig } from '../../model/router-config.js';
import { MODEL_TABLES, checkRouteArguments, configTables, type ConfigTables, type FastKernel, type RouteOutput } from './kernel-tables.js';

export class JsKernel implements FastKernel {
  readonly kind = 'js' as const;
  private config: RouterConfig | null = null;
  private tables: ConfigTables | null = null;
  /** (previous class << 8 | byte) -> class | token start << 4 | transition << 5 */
  private readonly pairInfo: Uint8Array;
  private readonly classCounts: Int32Array;
  /** Per byte value, the generation of the last record that held it: distinct bytes without clearing a set per record. */
  private readonly seenIn = new Int32Array(256);
  private generation = 0;
  private values = new Uint32Array(0);
  private readonly whitespace: number;
  private readonly continuation: number;

  constructor() {
    const { byteClass, tokenStart, transition } = MODEL_TABLES;
    const classes = BYTE_CLASS_COUNT;
    if (classes > 16) throw new Error(`the JavaScript kernel packs a byte class in 4 bits; the model has ${classes} classes`);
    this.whitespace = BYTE_CLASS.WHITESPACE;
    this.continuation = BYTE_CLASS.CONTINUATION;
    this.classCounts = new Int32Array(classes);
    this.pairInfo = new Uint8Array(classes * 256);
    for (let p = 0; p < classes; p++) {
      for (let b = 0; b < 256; b++) {
        const c = byteClass[b];
        const pair = p * classes + c;
        this.pairInfo[(p << 8) | b] = c | (tokenStart[pair] << 4) | (transition[pair] << 5);
      }
    }
  }

  private use(config: RouterConfig): ConfigTables {
    if (this.config !== config || this.tables === null) {
      this.tables = configTables(config);
      this.config = config;
      this.values = new Uint32Array(this.tables.params.VALUE_COUNT);
    }
    return this.tables;
  }

  routeInto(bytes: Uint8Array, offsets: Uint32Array, count: number, config: RouterConfig, out: RouteOutput): void {
    checkRouteArguments(bytes, offsets, count, out);
    const t = this.use(config);
    const P = t.params;
    const info = this.pairInfo;
    const counts = this.classCounts;
    const seenIn = this.seenIn;
    let gen = this.generation;
    const classes = counts.length;
    const statBytes = P.STAT_BYTES;
    const statChars = P.STAT_CHARS;
    const classOffset = P.CLASS_STAT_OFFSET;
    const statTokens = P.STAT_TOKENS;
    const statTransitions = P.STAT_TRANSITIONS;
    const valueNonWs = P.VALUE_NON_WS_CHARS;
    const valueDistinct = P.VALUE_DISTINCT_BYTES;
    const v = this.values;
    const fKind = t.featureKind;
    const fNum = t.featureNum;
    const fDen = t.featureDen;
    const fCap = t.featureCap;
    const fWeight = t.featureWeight;
    const bounds = t.boundaries;
    const nf = P.FEATURE_COUNT;
    const nb = P.BOUNDARY_COUNT;
    const weightSum = P.WEIGHT_SUM;
    const kindRatio = P.KIND_RATIO;
    const kindCapped = P.KIND_CAPPED;
    const ws = this.whitespace;
    const cont = this.continuation;
    const { experts, scoresQ16, confidenceQ16 } = out;
    for (let r = 0; r < count; r++) {
      const start = offsets[r];
      const end = offsets[r + 1];
      for (let c = 0; c < classes; c++) counts[c] = 0;
      if (gen === 0x7fffffff) {
        seenIn.fill(0);
        gen = 0;
      }
      gen++;
      let distinct = 0;
      let tokens = 0;
      let transitions = 0;
      let prev = ws;
      for (let i = start; i < end; i++) {
        const b = bytes[i];
        const x = info[(prev << 8) | b];
        prev = x & 15;
        counts[prev]++;
        tokens += (x >>> 4) & 1;
        transitions += x >>> 5;
        // Stamps only grow, so an older stamp (a byte new to this record) makes the difference negative: no branch.
        distinct += (seenIn[b] - gen) >>> 31;
        seenIn[b] = gen;
      }
      const n = end - start;
      const chars = n - counts[cont];
      v[statBytes] = n;
      v[statChars] = chars;
      for (let c = 0; c < cont; c++) v[classOffset + c] = counts[c];
      v[statTokens] = tokens;
      v[statTransitions] = transitions;
      v[valueNonWs] = chars - counts[ws];
      v[valueDistinct] = distinct;

      let acc = 0;
      for (let f = 0; f < nf; f++) {
        const num = v[fNum[f]];
        const kind = fKind[f];
        let q: number;
        if (kind === kindRatio) {
          const den = v[fDen[f]];
          q = ratioQ16(num < den ? num : den, den);
        } else if (kind === kindCapped) {
          q = cappedQ16(num, fCap[f]);
        } else {
          q = meanCappedQ16(num, v[fDen[f]], fCap[f]);
        }
        acc += fWeight[f] * q;
      }
      const score = Math.floor(acc / weightSum);

      let lo = 0;
      let hi = nb;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (bounds[mid] <= score) lo = mid + 1;
        else hi = mid;
      }
      const e = lo;
      let conf: number;
      if (nb === 0) conf = ONE;
      else {
        let dist: number;
        let span: number;
        if (e === 0) {
          dist = bounds[0] - score;
          span = bounds[0];
        } else if (e === nb) {
          dist = score - bounds[nb - 1];
          span = ONE - bounds[nb - 1];
        } else {
          const a = score - bounds[e - 1];
          const b = bounds[e] - score;
          dist = a < b ? a : b;
          span = (bounds[e] - bounds[e - 1]) >>> 1;
        }
        conf = span === 0 ? 0 : ratioQ16(dist < span ? dist : span, span);
      }
      experts[r] = e;
      scoresQ16[r] = score;
      confidenceQ16[r] = conf;
      // Stored per record, not after the loop: code after a hot loop has no type feedback
      // when V8 compiles the loop on the stack, and would deoptimise at every call's end.
      this.generation = gen;
    }
  }
}
