import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { lookupHost, type Registry } from '../registry/schema.ts';

/**
 * The demo origin: a stand-in for the farm's WordPress sites (nginx + php-fpm), serving every
 * site of a registry with WordPress-like pages, headers and cookies. Used by the local farm and
 * as the real upstream in tests and benchmarks. Its `/__origin/*` routes let tests count and
 * steer it: `stats`, `reset`, `fail` (answer 500 for a host), `delay` (slow a host down).
 */

export interface DemoOriginOptions {
  registry: Registry;
  port?: number;
  host?: string;
  /** Bytes of filler per page; 46 KB pages match the shared baselines. */
  pageBytes?: number;
}

export interface DemoOrigin {
  port: number;
  url: string;
  server: Server;
  /** Requests seen, by `host path` (path without query). */
  stats(): DemoOriginStats;
  reset(): void;
  close(): Promise<void>;
}

export interface DemoOriginStats {
  total: number;
  byHost: Record<string, number>;
  byRequest: Record<string, number>;
}

/** WordPress names its auth cookies with md5(siteurl). */
export function cookieHash(host: string): string {
  return createHash('md5').update(`http://${host}`).digest('hex');
}

export function demoOriginHandler(opts: DemoOriginOptions) {
  const pageBytes = opts.pageBytes ?? 46 * 1024;
  const filler = makeFiller(pageBytes);
  let stats: DemoOriginStats = { total: 0, byHost: {}, byRequest: {} };
  const failing = new Set<string>();
  const delays = new Map<string, number>();
  let generation = 0;

  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://origin.invalid');
    const path = url.pathname;
    if (path.startsWith('/__origin/')) return control(req, res, url);

    const rawHost = req.headers.host ?? '';
    const entry = lookupHost(opts.registry, rawHost);
    const host = entry ? (rawHost.split(':')[0] ?? '').toLowerCase() : rawHost;
    stats.total++;
    stats.byHost[host] = (stats.byHost[host] ?? 0) + 1;
    const key = `${req.method} ${host} ${path}`;
    stats.byRequest[key] = (stats.byRequest[key] ?? 0) + 1;
    // Drain any request body: the origin must not reset the connection under a proxy.
    for await (const _ of req) {
      // discard
    }
    const delay = delays.get(host);
    if (delay) await new Promise((r) => setTimeout(r, delay));
    res.setHeader('x-powered-by', 'PHP/8.2 (demo origin)');
    res.setHeader('x-demo-origin-request', String(stats.total));
    if (!entry) return send(res, 404, 'text/plain', `demo origin: no site for host "${rawHost}"\n`);
    if (failing.has(host))
      return send(res, 500, 'text/html', '<h1>Error establishing a database connection</h1>');
    const site = entry.site;
    const h = cookieHash(site.host);
    const cookies = parseCookies(req.headers.cookie);
    const loggedIn = Object.keys(cookies).some((c) => c.startsWith('wordpress_logged_in_'));
    const tags = (ids: string[]) => ids.map((t) => `${site.id}-${t}`).join(' ');

    if (path === '/wp-login.php') {
      if (req.method === 'POST') {
        res.setHeader('set-cookie', [
          `wordpress_sec_${h}=admin%7C1999999999%7Cdemo; path=/wp-admin; HttpOnly`,
          `wordpress_logged_in_${h}=admin%7C1999999999%7Cdemo; path=/; HttpOnly`,
        ]);
        res.setHeader('location', `http://${site.host}/wp-admin/`);
        res.setHeader('cache-control', 'no-cache, must-revalidate, max-age=0, no-store, private');
        return send(res, 302, 'text/html', '');
      }
      res.setHeader('set-cookie', 'wordpress_test_cookie=WP%20Cookie%20check; path=/');
      res.setHeader('cache-control', 'no-cache, must-revalidate, max-age=0, no-store, private');
      return send(
        res,
        200,
        'text/html',
        page(
          site.id,
          site.host,
          'Log In',
          '<form method="post"><input name="log"><input name="pwd" type="password"></form>',
          generation,
          '',
          false,
        ),
      );
    }
    if (path.startsWith('/wp-admin')) {
      res.setHeader('cache-control', 'no-cache, must-revalidate, max-age=0, no-store, private');
      if (!loggedIn) {
        res.setHeader('location', `http://${site.host}/wp-login.php?redirect_to=%2Fwp-admin%2F`);
        return send(res, 302, 'text/html', '');
      }
      return send(
        res,
        200,
        'text/html',
        page(site.id, site.host, 'Dashboard', '<p>Howdy, admin</p>', generation, '', true),
      );
    }
    if (path === '/xmlrpc.php') {
      return send(
        res,
        req.method === 'POST' ? 200 : 405,
        'text/xml',
        '<?xml version="1.0"?><methodResponse><params/></methodResponse>',
      );
    }
    if (path.startsWith('/wp-json/')) {
      res.setHeader('xkey', tags(['rest']));
      return send(
        res,
        200,
        'application/json',
        JSON.stringify([{ id: 1, site: site.id, title: { rendered: 'Hello world!' } }]),
      );
    }
    if (path === '/old-page/') {
      res.setHeader('location', `http://${site.host}/new-page/`);
      return send(res, 301, 'text/html', '');
    }
    if (url.searchParams.has('add-to-cart') || path.startsWith('/cart')) {
      res.setHeader('set-cookie', [
        'woocommerce_items_in_cart=1; path=/',
        `wp_woocommerce_session_${h}=guest%7C1; path=/; HttpOnly`,
      ]);
      res.setHeader('cache-control', 'no-cache, must-revalidate, max-age=0, no-store');
      return send(
        res,
        200,
        'text/html',
        page(site.id, site.host, 'Cart', '<p>1 item in your cart</p>', generation, '', loggedIn),
      );
    }
    if (path === '/private/') {
      res.setHeader('cache-control', 'private, max-age=0');
      return send(
        res,
        200,
        'text/html',
        page(site.id, site.host, 'Private', '<p>for your eyes</p>', generation, filler, loggedIn),
      );
    }
    if (path === '/set-cookie/') {
      res.setHeader('set-cookie', 'demo_visited=1; path=/');
      return send(
        res,
        200,
        'text/html',
        page(site.id, site.host, 'Sets a cookie', '<p>cookie set</p>', generation, filler, loggedIn),
      );
    }
    if (path.startsWith('/missing')) {
      return send(
        res,
        404,
        'text/html',
        page(site.id, site.host, 'Page not found', '<p>Nothing here.</p>', generation, '', loggedIn),
      );
    }
    const postId = (createHash('sha1').update(path).digest().readUInt16BE(0) % 900) + 100;
    const t = path === '/' ? ['home'] : path.startsWith('/feed') ? ['feed'] : [`p-${postId}`, 'a-1', 't-1'];
    res.setHeader('xkey', tags(t));
    res.setHeader('cache-tag', tags(t).replaceAll(' ', ','));
    res.setHeader('link', `<http://${site.host}/wp-json/>; rel="https://api.w.org/"`);
    if (path.startsWith('/feed'))
      return send(
        res,
        200,
        'application/rss+xml; charset=UTF-8',
        `<?xml version="1.0"?><rss><channel><title>${site.id}</title></channel></rss>`,
      );
    const title = path === '/' ? `${site.id} – Just another WordPress site` : `Post ${postId}`;
    return send(
      res,
      200,
      'text/html; charset=UTF-8',
      page(
        site.id,
        site.host,
        title,
        `<article id="post-${postId}"><p>Post ${postId} at ${escapeHtml(path)}</p></article>`,
        generation,
        filler,
        loggedIn,
      ),
    );
  };

  function control(req: IncomingMessage, res: ServerResponse, url: URL) {
    const host = (url.searchParams.get('host') ?? '').toLowerCase();
    switch (url.pathname) {
      case '/__origin/stats':
        return send(res, 200, 'application/json', JSON.stringify(stats));
      case '/__origin/reset':
        stats = { total: 0, byHost: {}, byRequest: {} };
        failing.clear();
        delays.clear();
        generation++;
        return send(res, 200, 'application/json', '{"ok":true}');
      case '/__origin/fail':
        if (url.searchParams.get('on') === '0') failing.delete(host);
        else failing.add(host);
        return send(res, 200, 'application/json', JSON.stringify({ failing: [...failing] }));
      case '/__origin/delay':
        delays.set(host, Math.min(Number(url.searchParams.get('ms') ?? 0) || 0, 120_000));
        return send(res, 200, 'application/json', JSON.stringify(Object.fromEntries(delays)));
      case '/__origin/health':
        return send(res, 200, 'text/plain', 'ok\n');
      default:
        void req;
        return send(res, 404, 'text/plain', 'unknown control route\n');
    }
  }

  return {
    handler,
    stats: () => structuredClone(stats),
    reset: () => {
      stats = { total: 0, byHost: {}, byRequest: {} };
      failing.clear();
      delays.clear();
      generation++;
    },
  };
}

/** Starts the demo origin in this process on 127.0.0.1. */
export async function startDemoOrigin(opts: DemoOriginOptions): Promise<DemoOrigin> {
  const h = demoOriginHandler(opts);
  const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    h.handler(req, res).catch((err) => {
      res.statusCode = 500;
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    server,
    stats: h.stats,
    reset: h.reset,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function send(res: ServerResponse, status: number, type: string, body: string) {
  res.statusCode = status;
  res.setHeader('content-type', type);
  res.setHeader('content-length', Buffer.byteLength(body));
  res.end(body);
}

function page(
  siteId: string,
  host: string,
  title: string,
  body: string,
  generation: number,
  filler: string,
  loggedIn: boolean,
) {
  const bar = loggedIn ? '<div id="wpadminbar">Howdy, admin</div>' : '';
  return `<!DOCTYPE html>
<html lang="en-US"><head><meta charset="UTF-8"><title>${escapeHtml(title)}</title>
<meta name="generator" content="WordPress 6.1"><link rel="https://api.w.org/" href="http://${host}/wp-json/">
</head><body class="home blog site-${siteId}">${bar}
<header><h1><a href="http://${host}/">${siteId}</a></h1></header>
<main>${body}</main>
<!-- demo origin: generated ${new Date().toISOString()} generation ${generation} -->
${filler}
</body></html>
`;
}

function makeFiller(bytes: number): string {
  const p =
    '<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua.</p>\n';
  return p.repeat(Math.max(0, Math.ceil(bytes / p.length))).slice(0, bytes);
}

function escapeHtml(s: string) {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}
