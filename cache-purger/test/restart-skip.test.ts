import { join } from 'node:path';
import { startVarnish } from '@wpfarm/common/peers/varnish';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Peers, PurgeLog, sendWebhooks, startPeers, startPurger, until } from './helpers.ts';

/**
 * Restart-time skipping against a real varnishd: jobs a node could not take before it restarted
 * are moot there (its cache is empty), so they are marked `skipped` rather than replayed.
 * To hold jobs back while the node's admin CLI still answers, varnish-3 first runs with a wrong
 * purge secret (every purge gets 403); it is then restarted, for real, with the right one.
 */
let p: Peers;
beforeAll(async () => {
  p = await startPeers('purger-restart');
});
afterAll(async () => {
  await p?.stop();
});

it('skips, on a restarted node, the jobs accepted before its restart; delivers the later ones', async () => {
  const old = p.varnish[2]!;
  await old.stop();
  await p.logs[2]!.proc.stop();
  const dir = join(p.dir, 'varnish-3');
  const wrong = await startVarnish({
    name: 'varnish-3',
    dir,
    port: old.port,
    adminPort: old.adminPort,
    backend: { host: '127.0.0.1', port: p.origin.port },
    purgeSecret: 'not-the-secret-the-purger-has',
  });
  const admin = p.varnish
    .map((v) => `${v.name}=127.0.0.1:${v.adminPort}@${join(p.dir, v.name, 'secret')}`)
    .join(',');
  const purger = await startPurger(p, { VARNISH_ADMIN: admin, PURGE_NODE_PROBE_MS: '200' }, 'purger-restart');
  try {
    const early = await sendWebhooks(purger.url, [{ site: 'alpha', tags: ['alpha-p-early'] }]);
    const job = early[0]!.body.job as string;
    await until('the other nodes acknowledged the early job', async () => {
      const s = (await (await fetch(`${purger.url}/v1/jobs/${job}`)).json()) as {
        nodes: Record<string, string>;
      };
      return s.nodes['varnish-1'] === 'done' && s.nodes['varnish-2'] === 'done';
    });
    await new Promise((r) => setTimeout(r, 500)); // a few probes see the old identity after the job
    await wrong.stop();
    const fresh = await startVarnish({
      name: 'varnish-3',
      dir,
      port: old.port,
      adminPort: old.adminPort,
      backend: { host: '127.0.0.1', port: p.origin.port },
      purgeSecret: p.purgeSecret,
      params: { vsl_reclen: 4084 },
    });
    p.varnish[2] = fresh;
    p.logs[2] = await PurgeLog.start(fresh, p.dir, p.purgeSecret);
    await until('the early job is resolved on varnish-3', async () => {
      const s = (await (await fetch(`${purger.url}/v1/jobs/${job}`)).json()) as {
        nodes: Record<string, string>;
      };
      return s.nodes['varnish-3'] !== undefined;
    });
    const s = (await (await fetch(`${purger.url}/v1/jobs/${job}`)).json()) as {
      nodes: Record<string, string>;
      edge: string;
    };
    expect(s.nodes['varnish-3']).toBe('skipped');
    expect(p.logs[2]!.keys().has('alpha-p-early')).toBe(false);
    // A job accepted after the restart is delivered normally.
    await sendWebhooks(purger.url, [{ site: 'alpha', tags: ['alpha-p-late'] }]);
    await until('the late job reached the restarted node', () => p.logs[2]!.keys().has('alpha-p-late'));
    await until('the early job went on to the edge', () => p.edge.tags().has('alpha-p-early'));
  } finally {
    await purger.proc.stop();
  }
});
