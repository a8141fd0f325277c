// webhook-standin (local Swarm profile only): the far end of the farm's outbound webhooks that
// cannot be reached here: Alertmanager's Slack receiver, the edge worker's purge API and
// Cloudflare's purge API. It answers every POST as Cloudflare's API does on success and keeps
// the last 500 requests (path, a few headers, body) for the end-to-end tests: GET /requests.
// Plain CommonJS with no imports beyond node:http: it runs on the stock Node image, mounted as a
// config. It does not cover rate limits, errors or authentication of the real services.
const http = require('node:http');
const kept = [];
const MAX_BODY = 1 << 20;
http
  .createServer((req, res) => {
    if (req.method === 'GET' && (req.url === '/healthz' || req.url === '/requests')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(req.url === '/healthz' ? '{"ok":true}' : JSON.stringify(kept));
      return;
    }
    let body = '';
    let size = 0;
    req.setEncoding('utf8');
    req.on('data', (c) => {
      size += c.length;
      if (size <= MAX_BODY) body += c;
    });
    req.on('end', () => {
      kept.push({
        at: new Date().toISOString(),
        method: req.method,
        path: req.url,
        contentType: req.headers['content-type'] ?? null,
        body,
      });
      if (kept.length > 500) kept.shift();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"success":true,"errors":[],"messages":[],"result":{"id":"standin"}}');
    });
  })
  .listen(9094, '0.0.0.0');
