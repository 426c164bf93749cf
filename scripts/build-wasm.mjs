// Builds the WebAssembly modules with Debian's clang and lld (apt-get install clang lld):
//   src/backends/cpu/kernel.c -> kernel.wasm   the fast CPU kernel
//   src/sinks/wasm/format.c   -> format.wasm   the output formatter
//   src/sources/wasm/lines.c  -> lines.wasm    the in-place `lines` packer
// The results are committed: installing the package needs no compiler; CI
// (.ci/run) rebuilds them and fails if the bytes differ from the committed files.
import { execFileSync } from 'node:child_process';

export const MODULES = ['src/backends/cpu/kernel', 'src/sinks/wasm/format', 'src/sources/wasm/lines'];
/*
 * Each module imports its memory and puts its data (then its stack) at its own base, so that the
 * three can share one memory (src/wasm/shared-memory.ts checks the regions do not overlap): lines
 * (about 20 KiB), then the kernel (about 820 KiB), then the formatter (about 1.4 MiB, its Q16 table).
 */
const GLOBAL_BASE = {
  'src/sources/wasm/lines': 64 << 10,
  'src/backends/cpu/kernel': 256 << 10,
  'src/sinks/wasm/format': 1280 << 10,
};

const clang = process.env.CLANG ?? 'clang';
for (const m of MODULES) {
  execFileSync(
    clang,
    [
      '--target=wasm32',
      '-nostdlib',
      '-O3',
      '-std=c11',
      '-Wall',
      '-Wextra',
      '-Werror',
      '-fno-builtin',
      '-msimd128',
      '-Wl,--no-entry',
      '-Wl,--strip-all',
      '-Wl,--import-memory',
      `-Wl,--global-base=${GLOBAL_BASE[m]}`,
      '-Wl,-z,stack-size=65536',
      '-o',
      `${m}.wasm`,
      `${m}.c`,
    ],
    { stdio: 'inherit' },
  );
}
