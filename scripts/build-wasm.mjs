// Builds the WebAssembly modules with Debian's clang and lld (apt-get install clang lld):
//   src/backends/cpu/kernel.c -> kernel.wasm   the fast CPU kernel
//   src/sinks/wasm/format.c   -> format.wasm   the output formatter
//   src/sources/wasm/lines.c  -> lines.wasm    the in-place `lines` packer
// The results are committed: installing the package needs no compiler; CI
// (.ci/run) rebuilds them and fails if the bytes differ from the committed files.
import { execFileSync } from 'node:child_process';

export const MODULES = ['src/backends/cpu/kernel', 'src/sinks/wasm/format', 'src/sources/wasm/lines'];

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
      '-Wl,--stack-first',
      '-Wl,-z,stack-size=65536',
      '-o',
      `${m}.wasm`,
      `${m}.c`,
    ],
    { stdio: 'inherit' },
  );
}
