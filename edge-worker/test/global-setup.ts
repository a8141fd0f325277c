/**
 * Starts the real demo origin (common) on loopback for the workerd tests, behind a thin front that
 * does what the origin-router does with edge requests: verify `x-edge-auth`, then route by
 * `x-edge-host`. It also keeps the headers of the last requests, so tests can prove what reached
 * the origin (poisoning headers, cookies, traceparent).
 *
 * It also starts the real telemetry bridge (in process) exporting to a real OTLP/gRPC receiver;
 * `/__front/spans` lists what the receiver got. And a peer that accepts connections and never
 * answers (a hung bridge); `/__front/hung` says how many connections it holds.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { EDGE_AUTH_HEADER, EDGE_HOST_HEADER, edgeSecretMatches } from '@wpfarm/common/contracts/edge-auth';
import { demoOriginHandler } from '@wpfarm/common/peers/demo-origin';
import { validateRegistry } from '@wpfarm/common/registry/schema';
import { createBridge } from '@wpfarm/telemetry/bridge/app';
import { loadBridgeConfig } from '@wpfarm/telemetry/bridge/config';
import { startOtlpReceiver } from '@wpfarm/telemetry/testing/otlp-receiver';
import pino from 'pino';
import type { TestProject } from 'vitest/node';
import { TEST_BRIDGE_TOKEN, TEST_EDGE_KEY, TEST_REGISTRY } from './fixtures.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    originPort: number;
    bridgePort: number;
    hungPort: number;
  }
}

/**
 * What WordPress behind Varnish does that the demo origin does not, for the hardening tests:
 * a `Range` on a cached page is answered 206 (Varnish serves ranges from its objects); a page
 * negotiated on `Accept-Language` (`/lang/…`, like a multilingual plugin) says so in `Vary`; and
 * `?rest_route=<route>` is the REST API, served exactly as `/wp-json/<route>`.
 * Returns true when it answered.
 */
function wordpressLike(req: IncomingMessage, res: ServerResponse): boolean {
  const url = new URL(req.url ?? '/', 'http://origin.invalid');
  if (req.headers.range) {
    res.writeHead(206, { 'content-type': 'text/html', 'content-range': 'bytes 0-0/1' });
    res.end('<');
    return true;
  }
  if (url.pathname.startsWith('/lang/')) {
    const lang = req.headers['accept-language'] ?? 'none';
    res.writeHead(200, { 'content-type': 'text/html', vary: 'Accept-Encoding, Accept-Language' });
    res.end(`<html lang="${lang}">language: ${lang}</html>`);
    return true;
  }
  const route = url.searchParams.get('rest_route');
  if (route !== null) {
    url.searchParams.delete('rest_route');
    req.url = `/wp-json${route}${url.search}`;
  }
  return false;
}

export default async function setup(project: TestProject) {
  const receiver = await startOtlpReceiver();
  const bridge = createBridge({
    config: loadBridgeConfig({
      BRIDGE_TOKEN: TEST_BRIDGE_TOKEN,
      BRIDGE_PORT: '0',
      BRIDGE_BATCH_DELAY_MS: '10',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    }),
    logger: pino({ level: 'silent' }),
  });
  project.provide('bridgePort', await bridge.listen());
  const held: Socket[] = [];
  const hung = createTcpServer((socket) => {
    held.push(socket);
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
  project.provide('hungPort', (hung.address() as AddressInfo).port);

  const origin = demoOriginHandler({ registry: validateRegistry(TEST_REGISTRY), pageBytes: 2048 });
  const seen: { method: string; host: string; path: string; headers: IncomingHttpHeaders }[] = [];
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    if (path.startsWith('/__front/spans') || path.startsWith('/__front/hung')) {
      res.setHeader('content-type', 'application/json');
      const open = held.filter((s) => !s.destroyed).length;
      return res.end(JSON.stringify(path.startsWith('/__front/hung') ? { open } : receiver.spans));
    }
    if (path.startsWith('/__front/seen')) {
      res.setHeader('content-type', 'application/json');
      return res.end(JSON.stringify(seen));
    }
    if (!path.startsWith('/__origin/')) {
      if (!edgeSecretMatches(req.headers[EDGE_AUTH_HEADER] as string | undefined, [TEST_EDGE_KEY])) {
        res.statusCode = 403;
        return res.end('edge auth failed\n');
      }
      req.headers.host = String(req.headers[EDGE_HOST_HEADER] ?? '');
      seen.push({ method: req.method ?? '', host: req.headers.host, path, headers: req.headers });
      if (seen.length > 1000) seen.shift();
      if (wordpressLike(req, res)) return;
    }
    origin.handler(req, res).catch((err) => {
      res.statusCode = 500;
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  project.provide('originPort', (server.address() as AddressInfo).port);
  return async () => {
    for (const s of held) s.destroy();
    hung.close();
    await bridge.close();
    await receiver.stop();
    await new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  };
}
