// Runs after tsc: copies the WGSL shaders, the committed WebAssembly modules and the dashboard
// page beside their compiled host code and makes the CLI entry point executable.
import { chmodSync, cpSync, existsSync } from 'node:fs';

cpSync('src/backends/gpu/shaders', 'dist/backends/gpu/shaders', { recursive: true });
cpSync('src/backends/cpu/kernel.wasm', 'dist/backends/cpu/kernel.wasm');
if (existsSync('dist/cli/main.js')) chmodSync('dist/cli/main.js', 0o755);
// the dashboard page's files (HTML template, script, stylesheet) beside dashboard/*.js
cpSync('src/dashboard/page', 'dist/dashboard/page', { recursive: true });
cpSync('src/sinks/wasm/format.wasm', 'dist/sinks/wasm/format.wasm');
cpSync('src/sources/wasm/lines.wasm', 'dist/sources/wasm/lines.wasm');
