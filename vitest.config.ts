import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // GPU tests need the real process environment (EGL_PLATFORM reaches Mesa only
    // from a process's main thread), so each test file runs in a forked process.
    pool: 'forks',
    testTimeout: 180_000,
    hookTimeout: 120_000,
    // Two cores: more parallel files only contend for the software adapter.
    maxWorkers: 2,
  },
});
