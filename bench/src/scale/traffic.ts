/**
 * `node bench/src/scale/traffic.ts <json>`: the scale benchmark's traffic against one Varnish
 * node, in a process of its own. Requests spread over `sites` sites and `pages` pages per site,
 * both by Zipf popularity (zipf.ts), over `connections` keep-alive connections, as fast as they
 * are answered:
 * - `get`: `requests` GETs (Host = the site, path = the page); counts answers by x-cache;
 * - `ban`: `requests` BANs of one page each (`x-ban-host` + `x-ban-url`, as the purger sends for a
 *   changed post's URLs), with the purge secret.
 * Prints one JSON line: { ok, errors, non2xx, hits, misses, seconds, rps }.
 */
import { Agent, request } from 'node:http';
import { zipfSampler } from './zipf.ts';

interface Spec {
  mode: 'get' | 'ban';
  port: number;
  sites: number;
  pages: number;
  requests: number;
  connections: number;
  purgeSecret?: string;
  seed?: number;
}

const o = JSON.parse(process.argv[2] ?? '{}') as Spec;
const agent = new Agent({ keepAlive: true, maxSockets: o.connections });
const site = zipfSampler(o.sites, 1, o.seed ?? 11);
const page = zipfSampler(o.pages, 0.8, (o.seed ?? 11) + 1);
let sent = 0;
let ok = 0;
let errors = 0;
let non2xx = 0;
let hits = 0;
let misses = 0;
const t0 = performance.now();

function one(): Promise<void> {
  const host = `site-${site()}.farm.example`;
  const path = `/page-${page()}/`;
  const headers: Record<string, string> =
    o.mode === 'get'
      ? { host }
      : { host, 'x-purge-secret': o.purgeSecret ?? '', 'x-ban-host': host, 'x-ban-url': path };
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port: o.port, path, method: o.mode === 'get' ? 'GET' : 'BAN', headers, agent },
      (res) => {
        res.resume();
        res.on('end', () => {
          if ((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300) ok++;
          else non2xx++;
          if (res.headers['x-cache'] === 'HIT') hits++;
          else if (res.headers['x-cache'] === 'MISS') misses++;
          resolve();
        });
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', () => {
      errors++;
      resolve();
    });
    req.end();
  });
}

async function worker(): Promise<void> {
  while (sent < o.requests) {
    sent++;
    await one();
  }
}

await Promise.all(Array.from({ length: o.connections }, worker));
const seconds = (performance.now() - t0) / 1000;
agent.destroy();
console.log(
  JSON.stringify({ ok, errors, non2xx, hits, misses, seconds, rps: Math.round(o.requests / seconds) }),
);
