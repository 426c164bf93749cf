// Runs after tsc: copies the WGSL shaders and the committed WebAssembly CPU
// kernel beside their compiled host code and makes the CLI entry point executable.
import { chmodSync, cpSync, existsSync } from 'node:fs';

cpSync('src/backends/gpu/shaders', 'dist/backends/gpu/shaders', { recursive: true });
cpSync('src/backends/cpu/kernel.wasm', 'dist/backends/cpu/kernel.wasm');
if (existsSync('dist/cli/main.js')) chmodSync('dist/cli/main.js', 0o755);
