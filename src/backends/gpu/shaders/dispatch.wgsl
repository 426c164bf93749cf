// Flat index of an invocation in a dispatch that the host may have folded
// into 2D (past maxComputeWorkgroupsPerDimension): rows of num_workgroups.x
// workgroups. Prepended to every kernel; WORKGROUP_SIZE is generated.

fn flat_invocation_index(wg: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
  return (wg.y * nwg.x + wg.x) * WORKGROUP_SIZE + lid;
}
