// Builds the fast CPU kernel, src/backends/cpu/kernel.c -> kernel.wasm, with
// Debian's clang and lld (apt-get install clang lld). The result is committed:
// installing the package needs no compiler; CI (.ci/run) rebuilds it and
// fails if the bytes differ from the committed file.
import { execFileSync } from 'node:child_process';

const clang = process.env.CLANG ?? 'clang';
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
    'src/backends/cpu/kernel.wasm',
    'src/backends/cpu/kernel.c',
  ],
  { stdio: 'inherit' },
);
