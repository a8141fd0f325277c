import { cloudflareTest } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';
import { TEST_BRIDGE_TOKEN, TEST_EDGE_KEY, TEST_PURGE_TOKEN } from './test/fixtures.ts';

export default defineConfig({
  test: {
    projects: [
      {
        // Tiers 1 and 2: the pure tables and the worker itself, inside workerd.
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: './wrangler.jsonc' },
            miniflare: {
              // The test runner itself imports node:* modules; the worker bundle does not need this flag.
              compatibilityFlags: ['nodejs_compat'],
              bindings: {
                ORIGIN_URL: `http://127.0.0.1:${inject('originPort')}`,
                EDGE_AUTH_KEY: TEST_EDGE_KEY,
                EDGE_PURGE_TOKEN: TEST_PURGE_TOKEN,
                ORIGIN_TIMEOUT_MS: '1500',
                HOST_MAP_TTL_SECONDS: '300',
                PURGE_STATE_TTL_SECONDS: '300',
                TRACE_SAMPLE_RATE: '1',
                // The real bridge (in global-setup) and, for fault tests, peers that hang or refuse.
                BRIDGE_URL: `http://127.0.0.1:${inject('bridgePort')}/v1/traces`,
                BRIDGE_TOKEN: TEST_BRIDGE_TOKEN,
                TEST_HUNG_BRIDGE_URL: `http://127.0.0.1:${inject('hungPort')}/v1/traces`,
              },
            },
          })),
        ],
        test: {
          name: 'workerd',
          globalSetup: ['./test/global-setup.ts'],
          include: ['src/**/*.test.ts', 'test/*.test.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        // Tier 3: serve.ts as a real process on a real socket.
        test: {
          name: 'node',
          include: ['test/node/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 150_000,
        },
      },
    ],
  },
});
