// Statistics pass: counts the character statistics of one run of bytes
// ("work item") per invocation and adds them into its string's record.
// A long string is split by the host into many work items, so no invocation
// handles more than CHUNK_BYTES bytes; all records are sums or ORs, which is
// why the split gives the same record as one pass over the string.
//
// Bindings (group 0):
//   0: bytes  storage, read        the window's UTF-8 bytes, 4 per u32, little-endian
//   1: items  storage, read        vec4<u32> per work item:
//                                  x = string index within the group,
//                                  y = first byte, z = end byte (window-relative),
//                                  w = byte before y in the same string, or NO_PREVIOUS_BYTE
//   2: stats  storage, read_write  STATS_STRIDE atomic u32 per string of the group
//                                  (layout: STAT_* constants, src/model/complexity-model.ts)
//   3: params uniform              x = number of work items
// Dispatch: ceil(items / WORKGROUP_SIZE) workgroups, folded into 2D past the
// per-dimension limit; flat_invocation_index (dispatch.wgsl) rebuilds the index.
// Constants (STAT_*, CLASS_*, BYTE_CLASS, MIX_CLASS, ...) are generated from the model.

@group(0) @binding(0) var<storage, read> bytes: array<u32>;
@group(0) @binding(1) var<storage, read> items: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read_write> stats: array<atomic<u32>>;
@group(0) @binding(3) var<uniform> params: vec4<u32>;

fn add_nonzero(index: u32, value: u32) {
  if (value != 0u) { atomicAdd(&stats[index], value); }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let item_index = flat_invocation_index(wg, nwg, lid);
  if (item_index >= params.x) { return; }
  let item = items[item_index];
  let start = item.y;
  let end = item.z;

  var class_counts = array<u32, BYTE_CLASS_COUNT>();
  var byte_set = array<u32, BYTE_SET_WORDS>();
  var tokens = 0u;
  var transitions = 0u;
  var prev_class = CLASS_WHITESPACE;
  if (item.w != NO_PREVIOUS_BYTE) { prev_class = BYTE_CLASS[item.w]; }

  var word = 0u;
  if (start < end) { word = bytes[start >> 2u]; }
  for (var i = start; i < end; i = i + 1u) {
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

  let base = item.x * STATS_STRIDE;
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
