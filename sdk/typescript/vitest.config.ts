import { defineConfig } from 'vitest/config';

// Unit tests: a fake WebSocket, fake timers, no network.
export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts'],
    testTimeout: 10_000,
  },
});
