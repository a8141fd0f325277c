/**
 * How a router process is run: the settings `npm run bench -- origin-router` measured its RSS and
 * throughput with. One source for the local farm, the benchmark and the Swarm stack
 * (infra/test/env.test.ts checks the stack sets them).
 */
export const ROUTER_RUNTIME_ENV = {
  /**
   * V8 otherwise sizes the young generation from the host's RAM (~270 MB RSS under load). 2 MB, not
   * 4: with 4 MB semi-spaces, Node 24's V8 restarted incremental marking right after every
   * mark-compact once the old generation passed 8 MB (its new limit left exactly the young
   * generation's 12 MB of room): 10–60 mark-compacts per 5 s under load, ~20 % more CPU per
   * request (docs/decisions/router-design.md).
   * One V8 helper thread: V8 sizes its pool from the host's cores, the stack gives a router 2 CPUs
   * (one event loop + one GC helper). On one core, the default pool's helpers ran in the main
   * thread's time slices: p99 at 1,300 req/s 7.1 → 5.6 ms (medians of 6 rounds, HAProxy 4.2).
   */
  NODE_OPTIONS: '--max-semi-space-size=2 --v8-pool-size=1',
  /**
   * glibc gives each thread that mallocs (V8's GC and compiler helpers) its own arena; one event
   * loop gains nothing from them, and under load they held ~15 MB of freed memory.
   */
  MALLOC_ARENA_MAX: '1',
} as const;

/** `env` with the router's runtime settings; NODE_OPTIONS is appended to (e.g. a telemetry `--import`). */
export function routerProcessEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return {
    ...env,
    MALLOC_ARENA_MAX: ROUTER_RUNTIME_ENV.MALLOC_ARENA_MAX,
    NODE_OPTIONS: `${env.NODE_OPTIONS ?? ''} ${ROUTER_RUNTIME_ENV.NODE_OPTIONS}`.trim(),
  };
}
