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

fn add_nonzero(index: u32, value: u32) {
  if (value != 0u) { atomicAdd(&stats[index], value); }
}

// Counts bytes [start, end) of string s (start > its first byte when prev_byte
// is not NO_PREVIOUS_BYTE) and adds them into its record.
fn count_part(s: u32, start: u32, end: u32, prev_byte: u32) {
  var class_counts = array<u32, BYTE_CLASS_COUNT>();
  var byte_set = array<u32, BYTE_SET_WORDS>();
  var tokens = 0u;
  var transitions = 0u;
  var prev_class = CLASS_WHITESPACE;
  if (prev_byte != NO_PREVIOUS_BYTE) { prev_class = BYTE_CLASS[prev_byte]; }

  var word = 0u;
  if (start < end) { word = bytes[(start - params.base) >> 2u]; }
  for (var p = start; p < end; p = p + 1u) {
    let i = p - params.base;
    if ((i & 3u) == 0u) { word = bytes[i >> 2u]; }
    let b = (word >> ((i & 3u) * 8u)) & 0xffu;
    let c = BYTE_CLASS[b];
    class_counts[c] = class_counts[c] + 1u;
    byte_set[b >> 5u] = byte_set[b >> 5u] | (1u << (b & 31u));
    if (c != CLASS_WHITESPACE) {
      if (prev_class == CLASS_WHITESPACE) {
        tokens = tokens + 1u;
      } else if (MIX_CLASS[prev_class] != MIX_CLASS[c]) {
        transitions = transitions + 1u;
      }
    }
    prev_class = c;
  }

  let base = s * STATS_STRIDE;
  let n = end - start;
  add_nonzero(base + STAT_BYTES, n);
  add_nonzero(base + STAT_CHARS, n - class_counts[CLASS_CONTINUATION]);
  for (var c = 0u; c < CLASS_CONTINUATION; c = c + 1u) {
    add_nonzero(base + CLASS_STAT_OFFSET + c, class_counts[c]);
  }
  add_nonzero(base + STAT_TOKENS, tokens);
  add_nonzero(base + STAT_TRANSITIONS, transitions);
  for (var w = 0u; w < BYTE_SET_WORDS; w = w + 1u) {
    if (byte_set[w] != 0u) { atomicOr(&stats[base + STAT_BYTE_SET + w], byte_set[w]); }
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let index = flat_invocation_index(wg, nwg, lid);
  if (index < params.heads) {
    let s = params.first_string + index;
    let start = offsets[s];
    let end = offsets[s + 1u];
    if (end - start > params.head_bytes || start == end) { return; }
    count_part(s, start, end, NO_PREVIOUS_BYTE);
    return;
  }
  let k = index - params.heads;
  if (k >= params.pieces) { return; }
  let piece = pieces[k];
  var prev_byte = NO_PREVIOUS_BYTE;
  if (piece.y != offsets[piece.x]) { prev_byte = byte_at(piece.y - 1u); }
  count_part(piece.x, piece.y, piece.z, prev_byte);
}
