import { loadRegistry } from '../registry/load.ts';
import { startDemoOrigin } from './demo-origin.ts';

/** `node demo-origin-cli.ts <registry> <port>`: the demo origin as its own process (local farm). */
const [registryFile, portArg] = process.argv.slice(2);
if (!registryFile || !portArg) {
  console.error('usage: demo-origin-cli.ts <registry file> <port>');
  process.exit(2);
}
const registry = await loadRegistry(registryFile);
const origin = await startDemoOrigin({ registry, port: Number(portArg) });
console.log(
  JSON.stringify({
    level: 'info',
    msg: 'demo origin listening',
    port: origin.port,
    sites: registry.sites.length,
  }),
);
const stop = () => origin.close().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
