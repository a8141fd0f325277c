/**
 * The Node floor of the origin-router benchmark: node:http's server and the router's own upstream
 * pool (origin-router/src/upstream.ts) forwarding every GET to one Varnish, and nothing else: no
 * edge secret, no registry, no hashing, no retries, no metrics, no request id. What the router
 * costs above this is its features; what this costs above HAProxy and nginx is Node's.
 *
 * Env: PORT (listen, loopback), UPSTREAM (host:port). Run with the router's runtime settings.
 */
import { createServer } from 'node:http';
import { UpstreamPool } from '@wpfarm/origin-router/upstream';

const port = Number(process.env.PORT);
const upstream = process.env.UPSTREAM ?? '';
if (!Number.isInteger(port) || port <= 0 || !/^[\w.-]+:\d+$/.test(upstream)) {
  console.error('minimal-node-proxy: set PORT (a port number) and UPSTREAM (host:port)');
  process.exit(2);
}

const pool = new UpstreamPool(`http://${upstream}`, {
  connections: 128,
  connectTimeoutMs: 2000,
  headersTimeoutMs: 30_000,
  bodyTimeoutMs: 10_000,
});

// The router's server option that matters for a 46 KB page (origin-router/src/app.ts).
const server = createServer({ highWaterMark: 64 * 1024 }, (req, res) => {
  let resume: () => void = () => {};
  const onDrain = () => resume();
  pool.dispatch(
    { method: 'GET', path: req.url ?? '/', headers: ['host', req.headers.host ?? ''], body: null },
    {
      onConnect() {},
      onHeaders(status, headers, r) {
        resume = r;
        const out: string[] = [];
        for (let i = 0; i < headers.length; i += 2) {
          const name = headers[i]!.toLowerCase();
          if (name !== 'connection' && name !== 'keep-alive' && name !== 'transfer-encoding')
            out.push(headers[i]!, headers[i + 1]!);
        }
        res.sendDate = false;
        res.writeHead(status, out);
      },
      onData(chunk) {
        const ok = res.write(chunk);
        if (!ok) res.once('drain', onDrain);
        return ok;
      },
      onComplete: () => res.end(),
      onError: (err) => res.destroy(err),
    },
  );
});
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => void pool.close().then(() => process.exit(0)));
});
