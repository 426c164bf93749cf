// Statistics pass: each invocation counts one run of bytes and adds that
// run's statistics into its string's record. The host uploads only the raw
// bytes, the group's string offsets (4 bytes per string) and a small table
// of pieces of long strings. Invocations [0, heads) each count a short
// string whole, found from the offsets (no per-string work item); the
// invocations after them each count one piece of at most CHUNK bytes of a
// long string, so a 200 MB string is split across 200 k invocations. All
// records are sums or ORs, which is why any split gives the record of one pass.
//
// Bindings (group 0):
//   0: bytes    storage, read        the window's bytes, 4 per u32, little-endian;
//                                    word 0 holds absolute byte params.base
//   1: offsets  storage, read        the group's offsets: string s of the group is
//                                    bytes [offsets[s], offsets[s + 1]) (absolute)
//   2: pieces   storage, read        vec4<u32> per piece: x = string (of the group),
//                                    y = first byte, z = end byte (absolute); the
//                                    window holds byte y - 1 when y is not the string's first
//   3: stats    storage, read_write  STATS_STRIDE atomic u32 per string of the group
//                                    (layout: STAT_* constants, src/model/complexity-model.ts)
//   4: params   uniform              see Params
// Dispatch: ceil((heads + pieces) / WORKGROUP_SIZE) workgroups, folded into 2D past
// the per-dimension limit; flat_invocation_index (dispatch.wgsl) rebuilds the index.
// Constants (STAT_*, CLASS_*, BYTE_CLASS, MIX_CLASS, ...) are generated from the model.

struct Params {
  // Absolute position of the window's first uploaded byte (a multiple of 4).
  base: u32,
  // Heads count strings first_string .. first_string + heads - 1 of the group.
  first_string: u32,
  heads: u32,
  pieces: u32,
  // Strings longer than this are counted by pieces, not by their head.
  head_bytes: u32,
  pad0: u32,
  pad1: u32,
  pad2: u32,
}

@group(0) @binding(0) var<storage, read> bytes: array<u32>;
@group(0) @binding(1) var<storage, read> offsets: array<u32>;
@group(0) @binding(2) var<storage, read> pieces: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read_write> stats: array<atomic<u32>>;
@group(0) @binding(4) var<uniform> params: Params;

fn byte_at(p: u32) -> u32 {
  let i = p - params.base;
  return (bytes[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu;
}

// Statistics of one string's part of a workgroup, summed (and ORed) in
// workgroup memory first: STATS_STRIDE global atomics per workgroup instead of
// per invocation, where every piece of the workgroup belongs to one long string.
// Kept (the REDUCE_PIECES block of main) for hardware GPUs, where same-address
// global atomics contend; llvmpipe runs a shader with workgroup barriers as
// coroutines, which cost it about 20% on a 200 MB string, so software adapters
// get the shader without the block.
var<workgroup> shared_record: array<atomic<u32>, STATS_STRIDE>;

// The statistics of bytes [start, end) of a string (start > its first byte when
// prev_byte is not NO_PREVIOUS_BYTE). Kept as counters, not as a record indexed
// by a variable: llvmpipe then keeps them in registers.
struct Part {
  n: u32,
  class_counts: array<u32, BYTE_CLASS_COUNT>,
  byte_set: array<u32, BYTE_SET_WORDS>,
  tokens: u32,
  transitions: u32,
}

fn count_bytes(start: u32, end: u32, prev_byte: u32) -> Part {
  var part = Part();
  var prev_class = CLASS_WHITESPACE;
  if (prev_byte != NO_PREVIOUS_BYTE) { prev_class = BYTE_CLASS[prev_byte]; }
  var word = 0u;
  if (start < end) { word = bytes[(start - params.base) >> 2u]; }
  for (var p = start; p < end; p = p + 1u) {
    let i = p - params.base;
    if ((i & 3u) == 0u) { word = bytes[i >> 2u]; }
    let b = (word >> ((i & 3u) * 8u)) & 0xffu;
    let c = BYTE_CLASS[b];
    part.class_counts[c] = part.class_counts[c] + 1u;
    part.byte_set[b >> 5u] = part.byte_set[b >> 5u] | (1u << (b & 31u));
    if (c != CLASS_WHITESPACE) {
      if (prev_class == CLASS_WHITESPACE) {
        part.tokens = part.tokens + 1u;
      } else if (MIX_CLASS[prev_class] != MIX_CLASS[c]) {
        part.transitions = part.transitions + 1u;
      }
    }
    prev_class = c;
  }
  part.n = end - start;
  return part;
}

fn add_nonzero(index: u32, value: u32) {
  if (value != 0u) { atomicAdd(&stats[index], value); }
}

// Adds a part into string s's record in the statistics buffer.
fn add_to_record(s: u32, part: Part) {
  let base = s * STATS_STRIDE;
  add_nonzero(base + STAT_BYTES, part.n);
  add_nonzero(base + STAT_CHARS, part.n - part.class_counts[CLASS_CONTINUATION]);
  for (var c = 0u; c < CLASS_CONTINUATION; c = c + 1u) {
    add_nonzero(base + CLASS_STAT_OFFSET + c, part.class_counts[c]);
  }
  add_nonzero(base + STAT_TOKENS, part.tokens);
  add_nonzero(base + STAT_TRANSITIONS, part.transitions);
  for (var w = 0u; w < BYTE_SET_WORDS; w = w + 1u) {
    if (part.byte_set[w] != 0u) { atomicOr(&stats[base + STAT_BYTE_SET + w], part.byte_set[w]); }
  }
}

fn add_shared_nonzero(index: u32, value: u32) {
  if (value != 0u) { atomicAdd(&shared_record[index], value); }
}

// Adds a part into the workgroup's shared record (same layout as a string's record).
fn add_to_shared(part: Part) {
  add_shared_nonzero(STAT_BYTES, part.n);
  add_shared_nonzero(STAT_CHARS, part.n - part.class_counts[CLASS_CONTINUATION]);
  for (var c = 0u; c < CLASS_CONTINUATION; c = c + 1u) {
    add_shared_nonzero(CLASS_STAT_OFFSET + c, part.class_counts[c]);
  }
  add_shared_nonzero(STAT_TOKENS, part.tokens);
  add_shared_nonzero(STAT_TRANSITIONS, part.transitions);
  for (var w = 0u; w < BYTE_SET_WORDS; w = w + 1u) {
    if (part.byte_set[w] != 0u) { atomicOr(&shared_record[STAT_BYTE_SET + w], part.byte_set[w]); }
  }
}

fn count_part(s: u32, start: u32, end: u32, prev_byte: u32) {
  add_to_record(s, count_bytes(start, end, prev_byte));
}

fn piece_prev_byte(piece: vec4<u32>) -> u32 {
  if (piece.y != offsets[piece.x]) { return byte_at(piece.y - 1u); }
  return NO_PREVIOUS_BYTE;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let index = flat_invocation_index(wg, nwg, lid);
  // The workgroup's first invocation, from workgroup ids only, so that branches on it are
  // uniform (the workgroup barriers below need that).
  let first_index = flat_invocation_index(wg, nwg, 0u);
  if (first_index < params.heads) {
    // A workgroup of heads (and at most one of them also holds the first pieces).
    if (index < params.heads) {
      let s = params.first_string + index;
      let start = offsets[s];
      let end = offsets[s + 1u];
      // Longer strings are counted by their pieces; no return here: it would make the rest non-uniform.
      if (end - start <= params.head_bytes && start != end) { count_part(s, start, end, NO_PREVIOUS_BYTE); }
    } else if (index - params.heads < params.pieces) {
      let piece = pieces[index - params.heads];
      count_part(piece.x, piece.y, piece.z, piece_prev_byte(piece));
    }
    return;
  }
  let first_piece = first_index - params.heads;
  if (first_piece >= params.pieces) { return; }
  let last_piece = min(first_piece + WORKGROUP_SIZE, params.pieces) - 1u;
  let k = index - params.heads;
  // REDUCE_PIECES begin. shader-source.ts keeps this block only where the
  // reduction is wanted: the barriers alone slow llvmpipe down, even never reached.
  let string = pieces[first_piece].x;
  if (pieces[last_piece].x == string) {
    // Every piece of this workgroup belongs to one string: sum them here first.
    if (lid < STATS_STRIDE) { atomicStore(&shared_record[lid], 0u); }
    workgroupBarrier();
    if (k < params.pieces) {
      let piece = pieces[k];
      add_to_shared(count_bytes(piece.y, piece.z, piece_prev_byte(piece)));
    }
    workgroupBarrier();
    if (lid < STATS_STRIDE) {
      let value = atomicLoad(&shared_record[lid]);
      if (value != 0u) {
        let index = string * STATS_STRIDE + lid;
        if (lid < STAT_BYTE_SET) { atomicAdd(&stats[index], value); } else { atomicOr(&stats[index], value); }
      }
    }
    return;
  }
  // REDUCE_PIECES end
  // Pieces of several strings (ordered by string), or no reduction: each adds its own.
  if (k < params.pieces) {
    let piece = pieces[k];
    count_part(piece.x, piece.y, piece.z, piece_prev_byte(piece));
  }
}
