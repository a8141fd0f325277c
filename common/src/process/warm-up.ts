/**
 * `node src/server.ts --warm-up`: the compile-cache warm-up of the service images
 * (infra/docker/node-service.Dockerfile). Each service's server.ts calls this after its imports,
 * so every module it loads at start is type-stripped and compiled into NODE_COMPILE_CACHE; the
 * process then exits 0 before reading its config or opening a port. (A service that starts on
 * defaults, like proxysql-health, would otherwise keep the image build waiting forever.)
 */
export const WARM_UP_FLAG = '--warm-up';

/** Exits 0 when the process was started with `--warm-up`. */
export function exitAfterWarmUp(argv: readonly string[] = process.argv): void {
  if (argv.slice(2).includes(WARM_UP_FLAG)) process.exit(0);
}
