import { defineConfig } from 'vitest/config';

// Integration and browser tests: each file starts its own gateway(s) on free
// ports from the binary that test/support/global-setup.ts builds once.
export default defineConfig({
  test: {
    include: ['test/integration/**/*.test.ts', 'test/browser/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // The machine is shared by several engineers: one file at a time.
    fileParallelism: false,
  },
});
