/**
 * A chunk worker: reads its byte ranges of a file (or takes the chunks of
 * whole lines the main thread cut from a stream), parses them, routes them on
 * the CPU kernel (or, on a hardware GPU, has the main thread route them) and
 * formats their output records, so that the main thread only writes. Record
 * indexes and line numbers in the output depend on every earlier chunk: the
 * worker reports its counts as soon as it has parsed, and formats once the
 * main thread sends the chunk's base.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort } from 'node:worker_threads';
import type { RecordBatch } from '../../sources/record-reader.js';
import { CpuBackend } from '../../backends/cpu/cpu-backend.js';
import { packLinesInPlace } from '../../sources/lines-in-place.js';
import { LineRangeReader } from '../../sources/line-ranges.js';
import { toFormattedBatch, type BatchRoutingInfo, type FormattedBatch } from '../formatted-batch.js';
import { batchPieces, compactText } from '../batch-pieces.js';
import { POOLED_PART_BYTES, type FromWorker, type ToWorker, type WorkerInit } from './protocol.js';
import { copyPart, setPartAllocator } from '../../sinks/batch-formatter.js';
import { ByteOutput } from '../../sinks/byte-formatter.js';
import { FusedLines } from './fused-lines.js';
import { compileModule } from '../../wasm/instance.js';
import { LINES_WASM } from '../../sources/wasm/wasm-lines.js';
import { FORMAT_WASM } from '../../sinks/wasm/wasm-formatter.js';

const port = parentPort;
if (!port) throw new Error('chunk-worker.js runs as a worker thread');

/*
 * A worker may be started before the job knows its options (the CLI starts them while it opens its
 * files): it compiles its WebAssembly now, and gets its WorkerInit as its
 * first message.
 */
const kernel = new CpuBackend();
// the fast lane's other two modules, compiled while the worker waits (instantiated once the options are known)
if (kernel.kernelKind === 'wasm') {
  try {
    compileModule(LINES_WASM);
    compileModule(FORMAT_WASM);
  } catch {
    // a runtime that cannot compile them runs their JavaScript twins, as their hosts decide
  }
}
let init!: WorkerInit;
// The kernel this worker runs, created once and reused for every chunk.
let fast: CpuBackend | null = null;
let description = '';
// The range reader of a regular file (its buffer is reused from range to range).
let ranges: LineRangeReader | null = null;
/** The fast lane for `lines` (fused-lines.ts), where the run's options allow it. */
let lane: FusedLines | null = null;
/**
 * Its areas: a default range (2 MiB) with a long last line, and as many records as a typical chunk
 * holds several times over; a bigger chunk takes the general path.
 */
const LANE_SIZES = { chunkBytes: 4 << 20, records: 1 << 18 };
function newLane(spec: WorkerInit['spec']): FusedLines | null {
  try {
    return new FusedLines(spec, LANE_SIZES);
  } catch {
    // a runtime that cannot instantiate the modules on one memory: every chunk takes the general path
    return null;
  }
}
function initialize(i: WorkerInit): void {
  init = i;
  fast = init.kernel === 'cpu' ? kernel : null;
  description = fast ? fast.description : init.kernel === 'main' ? '' : 'CPU reference (JavaScript)';
  ranges = init.fd !== undefined ? new LineRangeReader(init.fd, init.maxRecordBytes) : null;
  const spec = init.spec;
  // the output needs each record's results and text only, and nobody reads the records themselves
  const plain = !spec.explain && spec.shards === 0 && spec.models === null && !init.keepForListeners;
  lane = init.format === 'lines' && fast?.kernelKind === 'wasm' && plain ? newLane(spec) : null;
}
/**
 * Output parts are copied into buffers of POOLED_PART_BYTES that the main thread gives back once it
 * has written them: a few buffers go round instead of a fresh one per part, which V8 would
 * collect late and the kernel would fault in page by page. The parts of one chunk (the formatter
 * hands over its output a window at a time, and --batch-records pieces each have theirs) are packed
 * one after another into the same buffer: a buffer per part took three per chunk, more than went
 * round, and perf showed a third of the run's page faults in allocating new ones.
 */
const pool: ArrayBuffer[] = [];
const pooled = new WeakSet<ArrayBuffer>();
const POOL_MAX = 4;
/** The buffer this chunk's parts are being packed into, and how much of it they fill. */
let arena: Uint8Array | null = null;
let arenaUsed = 0;
setPartAllocator((bytes) => {
  if (bytes > POOLED_PART_BYTES) return new Uint8Array(bytes);
  if (!arena || arena.length - arenaUsed < bytes) {
    let buffer = pool.pop();
    if (!buffer) {
      buffer = new ArrayBuffer(POOLED_PART_BYTES);
      pooled.add(buffer);
    }
    arena = new Uint8Array(buffer);
    arenaUsed = 0;
  }
  arenaUsed += bytes;
  return arena.subarray(arenaUsed - bytes, arenaUsed);
});
/** The chunk's parts are sent (their buffers transferred): the next chunk starts a buffer of its own. */
function closeArena(): void {
  arena = null;
  arenaUsed = 0;
}

const bases = new Map<number, (base: { firstIndex: number; firstLine: number }) => void>();
const early = new Map<number, { firstIndex: number; firstLine: number }>();

function baseOf(seq: number): Promise<{ firstIndex: number; firstLine: number }> {
  const got = early.get(seq);
  if (got) {
    early.delete(seq);
    return Promise.resolve(got);
  }
  return new Promise((resolve) => bases.set(seq, resolve));
}

async function parse(seq: number, bytes: Uint8Array): Promise<RecordBatch> {
  // lines: packed in place (the chunk is this worker's own buffer); jsonl: the reader parses each line.
  if (init.format === 'lines') return packLinesInPlace(bytes, init.atFileStart && seq === 0, init.maxRecordBytes);
  // jsonl only: the reader (and the reference below) are loaded when first needed, not by every worker as it starts
  const { RecordReader } = await import('../../sources/record-reader.js');
  const reader = new RecordReader({
    atFileStart: init.atFileStart && seq === 0,
    maxRecordBytes: init.maxRecordBytes,
    stopAtError: init.onError === 'fail',
    format: init.format,
    ...(init.field !== undefined ? { field: init.field } : {}),
    file: init.file,
    // one batch per chunk: the chunk's size already bounds it
    batchBytes: Number.MAX_SAFE_INTEGER,
    batchRecords: 0x7fffffff,
    keepRaw: init.spec.shards > 0,
  });
  let only: RecordBatch | null = null;
  for await (const b of reader.batches((async function* () {
    yield bytes;
  })())) {
    if (only) throw new Error('a chunk parsed into more than one batch');
    only = b;
  }
  return only ?? { firstIndex: 0, count: 0, text: { bytes: new Uint8Array(0), offsets: new Uint32Array(1) }, errors: [], inputBytes: bytes.length };
}

/**
 * A buffer the worker may give away whole: a pooled output buffer, or one it made for this chunk and
 * mostly fills (an output sized by estimate); anything else is copied (a view into reused memory,
 * Node's shared pool).
 */
function owned<T extends Uint8Array | Uint32Array>(b: T, mine: boolean): T {
  if (mine && pooled.has(b.buffer as ArrayBuffer)) return b;
  if (mine && b.buffer.byteLength > Buffer.poolSize && b.byteLength >= b.buffer.byteLength / 2) return b;
  if (mine && b.byteOffset === 0 && b.byteLength === b.buffer.byteLength) return b;
  // A copy (TypedArray.prototype.slice: a Buffer's own slice() would be a view of the same memory).
  return (b instanceof Uint32Array ? Uint32Array.prototype.slice.call(b) : Uint8Array.prototype.slice.call(b)) as T;
}

/** The CPU reference: for kernel 'cpu-reference' and for --explain's statistics. */
async function referenceModules(): Promise<{ computeStatistics: typeof import('../../backends/cpu-reference/statistics.js').computeStatistics; scoreStatistics: typeof import('../../backends/cpu-reference/score.js').scoreStatistics }> {
  const [{ computeStatistics }, { scoreStatistics }] = await Promise.all([import('../../backends/cpu-reference/statistics.js'), import('../../backends/cpu-reference/score.js')]);
  return { computeStatistics, scoreStatistics };
}

/** A system error reading the file: the main thread reports it as a read error of the input, not as a bug. */
class ReadFailure extends Error {
  readonly code: string;
  constructor(err: unknown) {
    const e = err as NodeJS.ErrnoException;
    super(e.message ?? String(err));
    this.code = e.code ?? 'EIO';
  }
}

/** Where a chunk's bytes came from: a transferred buffer the worker owns, or the range reader's reused one. */
interface ChunkOrigin {
  /** Input bytes the chunk stands for (skipped bytes of an over-long line, or a range's span). */
  inputBytes: (parsed: number) => number;
  reused: boolean;
  eof: boolean;
}

/**
 * The kernel's results, in arrays this worker reuses from chunk to chunk: the formatter reads them
 * and what leaves the worker is copied (toFormattedBatch), so fresh ones per chunk were only
 * garbage, and page faults.
 */
let results = { experts: new Uint32Array(0), scoresQ16: new Uint32Array(0), confidenceQ16: new Uint32Array(0) };
function resultsFor(n: number): typeof results {
  if (results.experts.length < n) results = { experts: new Uint32Array(n), scoresQ16: new Uint32Array(n), confidenceQ16: new Uint32Array(n) };
  return { experts: results.experts.subarray(0, n), scoresQ16: results.scoresQ16.subarray(0, n), confidenceQ16: results.confidenceQ16.subarray(0, n) };
}

/** Kernel 'main': chunks waiting for the main thread's routing. */
const routed = new Map<number, (m: Extract<ToWorker, { type: 'routed' }>) => void>();

/**
 * Parses a chunk and starts its routing; the promise it returns settles once the chunk is routed,
 * formatted and sent. With kernel 'main' the text is handed to the main thread, so the next chunk
 * can be read while this one is on the device.
 */
async function handle(seq: number, bytes: Uint8Array, origin: ChunkOrigin): Promise<{ done: Promise<void>; garbage: boolean }> {
  if (lane) {
    const t0 = performance.now();
    const chunk = lane.pack(bytes, init.atFileStart && seq === 0, init.maxRecordBytes);
    // more records than a batch may hold: the general path formats them in --batch-records pieces
    if (chunk && chunk.records <= init.batchRecords) {
      port!.postMessage({ type: 'counted', seq, records: chunk.records, lines: chunk.records } satisfies FromWorker);
      lane.route(init.config);
      return { done: finishLane(lane, seq, chunk.records, origin.inputBytes(bytes.length), performance.now() - t0, origin), garbage: false };
    }
  }
  const batch = await parse(seq, bytes);
  batch.inputBytes = origin.inputBytes(batch.inputBytes);
  const post = (m: FromWorker, transfer: ArrayBuffer[] = []): void => port!.postMessage(m, transfer);
  post({ type: 'counted', seq, records: batch.count, lines: batch.count });
  if (init.kernel === 'main' && batch.count > batch.errors.length) {
    // The text leaves this thread (transferred, so a copy of reused memory) and comes back routed.
    const text = { bytes: owned(batch.text.bytes, !origin.reused), offsets: owned(batch.text.offsets, true) };
    const back = new Promise<Extract<ToWorker, { type: 'routed' }>>((resolve) => routed.set(seq, resolve));
    post({ type: 'route', seq, text }, [...new Set([text.bytes.buffer as ArrayBuffer, text.offsets.buffer as ArrayBuffer])]);
    return {
      garbage: true,
      done: back.then((m) => {
        batch.text = m.text;
        return finish(seq, batch, m.routing, { ...origin, reused: false });
      }),
    };
  }
  const t0 = performance.now();
  let routing: BatchRoutingInfo | null = null;
  if (batch.count > batch.errors.length) {
    const n = batch.count;
    const { bytes, offsets } = batch.text;
    // --explain needs each record's statistics: the reference computes them (the same integers as every kernel).
    const reference = fast === null || init.spec.explain ? await referenceModules() : null;
    const stats = reference ? reference.computeStatistics(bytes, offsets) : undefined;
    let r;
    if (fast) {
      r = resultsFor(n);
      fast.routeInto(bytes, offsets, n, init.config, r);
    } else {
      r = (reference as NonNullable<typeof reference>).scoreStatistics(init.config, stats as Uint32Array, n);
    }
    routing = { ...r, ...(init.spec.explain && stats ? { stats } : {}), backend: init.kernel, adapter: description, fallback: false, routeMs: performance.now() - t0 };
  }
  return { done: finish(seq, batch, routing, origin), garbage: true };
}

/** Formats a routed chunk once its base is known, in batches of at most init.batchRecords records, and sends them. */
async function finish(seq: number, batch: RecordBatch, routing: BatchRoutingInfo | null, origin: ChunkOrigin): Promise<void> {
  const base = await baseOf(seq);
  batch.firstIndex = base.firstIndex;
  for (const e of batch.errors) e.line += base.firstLine - 1;
  const pieces = batchPieces(batch, routing, init.batchRecords);
  const batches: FormattedBatch[] = [];
  const transfer = new Set<ArrayBuffer>();
  const give = <T extends Uint8Array | Uint32Array>(b: T, mine: boolean): T => {
    const o = owned(b, mine);
    transfer.add(o.buffer as ArrayBuffer);
    return o;
  };
  for (const piece of pieces) {
    const out: FormattedBatch = toFormattedBatch(piece.batch, piece.routing, init.spec, init.onError, { text: init.keepForListeners, results: init.keepForListeners }, init.config);
    out.output = out.output.map((b) => give(b, true));
    if (out.shards) out.shards = out.shards.map((b) => give(b, true));
    for (const a of [out.experts, out.scoresQ16, out.confidenceQ16]) transfer.add(a.buffer as ArrayBuffer);
    if (out.text) {
      // one piece: the chunk's own text; several: each its own bytes, not a view of the whole chunk
      const text = pieces.length > 1 ? compactText(out.text) : out.text;
      out.text = { bytes: give(text.bytes, pieces.length > 1 || !origin.reused), offsets: give(text.offsets, true) };
    }
    batches.push(out);
    // a bad record that stops the run: nothing after it is formatted
    if (out.failure) break;
  }
  closeArena();
  port!.postMessage({ type: 'done', seq, batches, eof: origin.eof } satisfies FromWorker, [...transfer]);
}

/**
 * The fast lane's ByteOutput: what the formatter hands over is copied into the chunk's pooled buffer.
 * Its capacity is also the largest piece it hands over: a pooled buffer's, so that a chunk's output
 * is one part (in 64 KiB pieces, the main thread made one write of each).
 */
let laneParts: Uint8Array[] = [];
const laneOutput = new ByteOutput((chunk) => laneParts.push(copyPart(chunk)), POOLED_PART_BYTES);

/** Formats a chunk the fast lane routed, once its base is known, and sends it: one batch, its output and counts. */
async function finishLane(fused: FusedLines, seq: number, records: number, inputBytes: number, routeMs: number, origin: ChunkOrigin): Promise<void> {
  const base = await baseOf(seq);
  const t0 = performance.now();
  laneParts = [];
  const perExpert = fused.format(laneOutput, base.firstIndex, init.config.numExperts);
  laneOutput.flush();
  const output = laneParts.map((p) => owned(p, true));
  const batch: FormattedBatch = {
    firstIndex: base.firstIndex,
    records,
    inputBytes,
    errors: 0,
    perExpert,
    // nobody reads them (the lane runs only then): empty, as toFormattedBatch leaves them
    experts: new Uint32Array(0),
    scoresQ16: new Uint32Array(0),
    confidenceQ16: new Uint32Array(0),
    text: null,
    output,
    shards: null,
    backend: init.kernel,
    adapter: description,
    fallback: false,
    failure: null,
    timings: { routeMs, formatMs: performance.now() - t0 },
  };
  closeArena();
  port!.postMessage({ type: 'done', seq, batches: [batch], eof: origin.eof } satisfies FromWorker, [...new Set(output.map((p) => p.buffer as ArrayBuffer))]);
}

/**
 * The outputs go round in the pool, but each chunk still leaves dead ArrayBuffers (offsets, results,
 * copies of text). V8 collects those only after external memory has grown by tens of MiB, per
 * isolate: with a worker per core that broke the memory bound. A full collection every 32 MiB of
 * input the general path took costs little against the routing of those bytes. The fast lane leaves
 * no such garbage, and its chunks do not count: a collection per 32 MiB was 6% of its time.
 */
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
let sinceCollect = 0;
const collect = (bytes: number): void => {
  sinceCollect += bytes;
  if (sinceCollect < 32 << 20) return;
  sinceCollect = 0;
  gc();
};

// Chunks are handled one after another, in the order they arrive.
let chain: Promise<void> = Promise.resolve();
port.on('message', (m: ToWorker) => {
  if (m.type === 'init') {
    initialize(m.init);
    return;
  }
  if (m.type === 'recycle') {
    for (const b of m.buffers) {
      if (pool.length >= POOL_MAX || b.byteLength !== POOLED_PART_BYTES) continue;
      pooled.add(b);
      pool.push(b);
    }
    return;
  }
  if (m.type === 'routed') {
    const waiting = routed.get(m.seq);
    routed.delete(m.seq);
    waiting?.(m);
    return;
  }
  if (m.type === 'base') {
    const waiting = bases.get(m.seq);
    if (waiting) {
      bases.delete(m.seq);
      waiting(m);
    } else early.set(m.seq, m);
    return;
  }
  const fail = (err: unknown): void => {
    const e = err instanceof Error ? err : new Error(String(err));
    const code = err instanceof ReadFailure ? err.code : undefined;
    port.postMessage({ type: 'failed', seq: m.seq, name: e.name, message: e.message, ...(e.stack ? { stack: e.stack } : {}), ...(code ? { code } : {}) } satisfies FromWorker);
  };
  const work =
    m.type === 'range'
      ? (): Promise<{ done: Promise<void>; bytes: number }> => {
          if (!ranges) throw new Error('a range arrived at a worker that has no file');
          let got;
          try {
            got = ranges.read(m.range, lane?.inputArea);
          } catch (err) {
            throw new ReadFailure(err);
          }
          const bytes = got.inputBytes;
          return handle(m.seq, got.bytes, { inputBytes: () => bytes, reused: true, eof: got.eof }).then((h) => ({ ...h, bytes: h.garbage ? bytes : 0 }));
        }
      : (): Promise<{ done: Promise<void>; bytes: number }> =>
          handle(m.seq, m.bytes, { inputBytes: (n) => n + m.skippedBytes, reused: false, eof: false }).then((h) => ({ ...h, bytes: h.garbage ? m.bytes.length : 0 }));
  // Chunks are read and parsed one after another; with kernel 'main' the next one starts while this one is routed.
  chain = chain.then(() =>
    work().then(
      (h) => (init.kernel === 'main' ? void h.done.then(() => collect(h.bytes), fail) : h.done.then(() => collect(h.bytes), fail)),
      fail,
    ),
  );
});
