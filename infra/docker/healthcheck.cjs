'use strict';
/**
 * The Node images' health check: `node healthcheck.cjs [url]` exits 0 on a 2xx answer, 1 otherwise.
 * The URL (http only) is the argument or HEALTHCHECK_URL (set per image at build time).
 *
 * Plain CommonJS over node:net because it runs every few seconds in every container: no
 * TypeScript to strip, no fetch/undici to load, no ESM loader: a probe costs Node's start and
 * little more (~75 ms of CPU against ~280 ms for the .ts version, whose probes timed out under
 * load until Swarm killed healthy routers; figures in infra/README.md, "Images"). HTTP/1.0 so the
 * server closes after one answer; only the status line is read. A 2 s deadline so a hung service
 * fails the check instead of stalling it.
 */
const net = require('node:net');

const TIMEOUT_MS = 2000;

function fail(why) {
  process.stderr.write(`healthcheck: ${why}\n`);
  process.exit(1);
}

const arg = process.argv[2] || process.env.HEALTHCHECK_URL;
if (!arg) fail('give a URL or set HEALTHCHECK_URL');
let url;
try {
  url = new URL(arg);
} catch {
  fail(`not a URL: ${arg}`);
}
if (url.protocol !== 'http:') fail(`${arg}: only http:// URLs are probed`);

setTimeout(() => fail(`${arg}: no answer within ${TIMEOUT_MS} ms`), TIMEOUT_MS);
const socket = net.connect({ host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(url.port) || 80 });
socket.on('connect', () => {
  socket.write(
    `GET ${url.pathname}${url.search} HTTP/1.0\r\nHost: ${url.host}\r\nUser-Agent: healthcheck\r\n\r\n`,
  );
});
let head = '';
socket.on('data', (chunk) => {
  head += chunk.toString('latin1');
  const eol = head.indexOf('\r\n');
  if (eol === -1 && head.length < 1024) return;
  const status = /^HTTP\/1\.[01] (\d{3})(?: |\r|$)/.exec(head.slice(0, eol === -1 ? undefined : eol));
  if (!status) fail(`${arg}: not an HTTP answer`);
  const code = Number(status[1]);
  if (code >= 200 && code < 300) process.exit(0);
  fail(`${arg}: HTTP ${code}`);
});
socket.on('error', (err) => fail(`${arg}: ${err.message}`));
socket.on('end', () => fail(`${arg}: connection closed before a status line`));
