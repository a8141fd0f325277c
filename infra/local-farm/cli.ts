import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RegistryError } from '@wpfarm/common/registry/schema';
import { alive, farmOptions, readState, servicesTable, startFarm, stopFarm } from './runner.ts';

/**
 * `npm start` / `npm stop` / `npm run farm -- status`: the local farm on loopback.
 * Options: --base-port (FARM_BASE_PORT, 18000), --run-dir (FARM_RUN_DIR, .farm),
 * --registry (FARM_REGISTRY, infra/registry/sites.yaml), --only=a,b (FARM_ONLY),
 * --detach (return once ready, leaving the farm running), --galera-nodes=1, --origin=wordpress|demo,
 * --wordpress=N, --sites=a,b, --keep-upstream=a,b|all, --wp-children=N (README.md).
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const [command = 'start', ...args] = process.argv.slice(2);
const log = (line: string) => process.stdout.write(`${line}\n`);

async function main(): Promise<number> {
  const opts = farmOptions(ROOT, args, process.env, log);
  switch (command) {
    case 'start': {
      if (opts.flags.detach && !process.env.FARM_SUPERVISOR) return startDetached(opts.runDir);
      const farm = await startFarm(opts);
      log('');
      log(servicesTable(farm.services));
      log('');
      log(`logs: ${opts.runDir}/logs   secrets: ${opts.runDir}/secrets.env   stop: Ctrl-C or \`npm stop\``);
      let stopping = false;
      const shutdown = async (sig: string) => {
        if (stopping) return;
        stopping = true;
        log(`\n› ${sig}: stopping the farm ...`);
        await farm.stop();
        log('✓ farm stopped');
        process.exit(0);
      };
      process.on('SIGINT', () => void shutdown('SIGINT'));
      process.on('SIGTERM', () => void shutdown('SIGTERM'));
      process.on('SIGHUP', () => void shutdown('SIGHUP'));
      return -1; // keep running until a signal
    }
    case 'stop':
      return stopFarm(opts.runDir, log);
    case 'status': {
      const state = readState(opts.runDir);
      if (!state || !alive(state.supervisorPid)) {
        log('no farm running');
        return 1;
      }
      log(servicesTable(state.services));
      const down = state.processes.filter((p) => !alive(p.pid));
      for (const p of down) log(`✗ ${p.name} is not running (log: ${p.logFile})`);
      return down.length ? 1 : 0;
    }
    default:
      log(`unknown command "${command}" (start, stop, status)`);
      return 2;
  }
}

/** Runs the supervisor in the background, follows its log until the farm is ready, and returns. */
async function startDetached(runDir: string): Promise<number> {
  mkdirSync(join(runDir, 'logs'), { recursive: true });
  const logFile = join(runDir, 'logs', 'farm.log');
  const fd = openSync(logFile, 'w');
  const child = spawn(
    process.execPath,
    [fileURLToPath(import.meta.url), 'start', ...args.filter((a) => a !== '--detach')],
    {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: { ...process.env, FARM_SUPERVISOR: '1' },
    },
  );
  closeSync(fd);
  child.unref();
  let exited: number | null = null;
  child.once('exit', (code) => {
    exited = code ?? 1;
  });
  let shown = 0;
  const follow = () => {
    const text = readFileSync(logFile, 'utf8');
    process.stdout.write(text.slice(shown));
    shown = text.length;
  };
  for (;;) {
    await new Promise((r) => setTimeout(r, 200));
    follow();
    if (exited !== null) return exited || 1;
    const state = readState(runDir);
    if (state?.ready && state.supervisorPid === child.pid) {
      await new Promise((r) => setTimeout(r, 300));
      follow();
      log(`› detached: the farm keeps running (supervisor pid ${child.pid}); \`npm stop\` tears it down`);
      return 0;
    }
  }
}

main().then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err) => {
    if (err instanceof RegistryError) log(`✗ ${err.message}`);
    else log(`✗ ${(err as Error).message}`);
    process.exit(1);
  },
);
