import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // The real-peer files each start their own varnishd ×3 and redis; run them one at a time on 2 cores.
    fileParallelism: false,
  },
});
