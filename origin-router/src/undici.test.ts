import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as undici from 'undici';
import { describe, expect, it } from 'vitest';
import { Agent, Pool, request } from './undici.ts';

describe('slim undici', () => {
  it('loads the classes the package exports', () => {
    expect(Pool).toBe(undici.Pool);
    expect(Agent).toBe(undici.Agent);
  });

  it('request() works on a dispatcher loaded without the package index', async () => {
    const server = createServer((req, res) => res.end(`seen ${req.url}`));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { connections: 1 });
    try {
      const r = await request(pool, { method: 'GET', path: '/probe', headersTimeout: 2000 });
      expect(r.statusCode).toBe(200);
      expect(await r.body.text()).toBe('seen /probe');
    } finally {
      await pool.close();
      server.close();
    }
  });
});
