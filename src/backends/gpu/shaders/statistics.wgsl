// Statistics pass: each invocation counts one fixed block of CHUNK bytes of
// the window and adds, for every string that block touches, that string's
// part of the statistics into its record. The host uploads only the raw bytes
// and the group's string offsets (4 bytes per string): an invocation finds
// the string its block starts in by a binary search in the offsets, so a
// 200 MB string is split across 200 k invocations and a block of short lines
// covers tens of strings, without any per-string work item. All records are
// sums or ORs, which is why any split gives the record of one pass.
//
// Bindings (group 0):
//   0: bytes    storage, read        the window's bytes, 4 per u32, little-endian;
//                                    word 0 holds absolute byte params.base
//   1: offsets  storage, read        the group's offsets: string s of the group is
//                                    bytes [offsets[s], offsets[s + 1]) (absolute);
//                                    params.strings + 1 entries
//   2: stats    storage, read_write  STATS_STRIDE atomic u32 per string of the group
//                                    (layout: STAT_* constants, src/model/complexity-model.ts)
//   3: params   uniform              see Params: the window counts bytes [active_start,
//                                    active_end) in blocks of `chunk` bytes; the host starts
//                                    the upload (base) before active_start when a string
//                                    goes on across it, so the byte before is always there
// Dispatch: ceil(blocks / WORKGROUP_SIZE) workgroups, folded into 2D past the
// per-dimension limit; flat_invocation_index (dispatch.wgsl) rebuilds the index.
// Constants (STAT_*, CLASS_*, BYTE_CLASS, MIX_CLASS, ...) are generated from the model.

struct Params {
  base: u32,
  active_start: u32,
  active_end: u32,
  chunk: u32,
  blocks: u32,
  strings: u32,
  pad0: u32,
  pad1: u32,
}

@group(0) @binding(0) var<storage, read> bytes: array<u32>;
@group(0) @binding(1) var<storage, read> offsets: array<u32>;
@group(0) @binding(2) var<storage, read_write> stats: array<atomic<u32>>;
@group(0) @binding(3) var<uniform> params: Params;

fn byte_at(p: u32) -> u32 {
  let i = p - params.base;
  return (bytes[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu;
}

// The string s of the group with offsets[s] <= p < offsets[s + 1]
// (the last of several equal offsets: empty strings hold no byte).
fn string_at(p: u32) -> u32 {
  var lo = 0u;
  var hi = params.strings;
  while (hi - lo > 1u) {
    let mid = (lo + hi) >> 1u;
    if (offsets[mid] <= p) { lo = mid; } else { hi = mid; }
  }
  return lo;
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
  let block = flat_invocation_index(wg, nwg, lid);
  if (block >= params.blocks) { return; }
  let block_start = params.active_start + block * params.chunk;
  let block_end = block_start + min(params.chunk, params.active_end - block_start);
  var s = string_at(block_start);
  var p = block_start;
  loop {
    // Here offsets[s] <= p < offsets[s + 1].
    let part_end = min(block_end, offsets[s + 1u]);
    var prev_byte = NO_PREVIOUS_BYTE;
    if (p != offsets[s]) { prev_byte = byte_at(p - 1u); }
    count_part(s, p, part_end, prev_byte);
    p = part_end;
    if (p >= block_end) { break; }
    // The next string holding a byte (p < block_end <= the group's end, so one exists).
    s = s + 1u;
    while (offsets[s + 1u] <= p) { s = s + 1u; }
  }
}
