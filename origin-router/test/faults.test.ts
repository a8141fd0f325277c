/**
 * Faults under bounded load, against real peers: a registry rewritten (and once broken) while
 * requests flow, a Varnish node killed mid-load, and SIGTERM's drain order.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { tcpOpen } from '@wpfarm/common/process/managed';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, newSite, type Rig, registryYaml, startRig } from './harness.ts';

const SITES = 20;
let rig: Rig;
let agent: Agent;

beforeAll(async () => {
  rig = await startRig({ sites: SITES, frontEnv: { DRAIN_DELAY_MS: '1000', EJECT_AFTER_FAILURES: '1' } });
  agent = new Agent({ connections: 16 });
});
afterAll(async () => {
  await agent?.close();
  await rig?.stop();
});

const hosts = Array.from({ length: SITES }, (_, i) => `s${i}.farm.test`);
const edge = (host: string) => ({ 'x-edge-auth': rig.keys[0], 'x-edge-host': host });

/** `workers` loops of GETs over the sites until `stop()`; returns every non-200 seen. */
function load(workers: number) {
  let running = true;
  let total = 0;
  const failures: string[] = [];
  const loops = Array.from({ length: workers }, async (_, w) => {
    let i = w;
    while (running) {
      const host = hosts[i++ % hosts.length]!;
      try {
        const r = await get(`${rig.front.url}/load/${i % 7}/`, edge(host), { dispatcher: agent });
        total++;
        if (r.status !== 200) failures.push(`${host} ${r.status} ${r.headers['x-router-error'] ?? ''}`);
      } catch (err) {
        failures.push(`${host} ${(err as Error).message}`);
      }
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return { total, failures };
    },
  };
}

function writeAtomic(file: string, text: string) {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

describe('faults under load', () => {
  it('hot-reloads the registry (and refuses a broken one) without losing a request', async () => {
    const running = load(6);
    const good = registryYaml(rig.origin.url, SITES, newSite(rig.origin.url));
    for (let round = 0; round < 3; round++) {
      writeAtomic(rig.registryFile, good);
      await sleep(300);
      writeAtomic(rig.registryFile, 'version: 1\nsites:\n  - { id: Broken!, host: "not a host" }\n');
      await sleep(300);
      rig.front.proc.signal('SIGHUP');
      await sleep(100);
    }
    writeFileSync(rig.registryFile, good); // in place this time, not renamed
    const { total, failures } = await running.stop();
    expect(failures).toEqual([]);
    expect(total).toBeGreaterThan(50);
    // The new site is served once the last good file is live.
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      status = (await get(`${rig.front.url}/`, edge('added.farm.test'))).status;
      if (status !== 200) await sleep(100);
    }
    expect(status).toBe(200);
    const log = await readFile(rig.front.proc.logFile, 'utf8');
    const refused = log.split('\n').filter((l) => l.includes('registry reload refused'));
    expect(refused.some((l) => l.includes('site \\"Broken!\\" field \\"id\\"'))).toBe(true);
    expect(refused.some((l) => l.includes('field \\"host\\"'))).toBe(true); // every issue, not just the first
  });

  it('kills a Varnish node under load: no failed GET, and only that node’s hosts move', async () => {
    // Warm every host and learn its node.
    const nodeOf = new Map<string, string>();
    for (const host of hosts) {
      await get(`${rig.front.url}/warm/`, edge(host));
      const r = await get(`${rig.front.url}/warm/`, edge(host));
      expect(r.headers['x-cache']).toBe('HIT');
      nodeOf.set(host, r.headers['x-router-node']!);
    }
    const victimIndex = 1;
    const victim = `varnish-${victimIndex + 1}`;
    expect([...nodeOf.values()]).toContain(victim);

    const running = load(8);
    await sleep(400);
    rig.varnish[victimIndex]!.process.signal('SIGKILL');
    await rig.varnish[victimIndex]!.process.exited;
    await sleep(1200);
    const { total, failures } = await running.stop();
    expect(failures).toEqual([]);
    expect(total).toBeGreaterThan(50);

    for (const host of hosts) {
      const r = await get(`${rig.front.url}/warm/`, edge(host));
      expect(r.status).toBe(200);
      if (nodeOf.get(host) !== victim) {
        expect(r.headers['x-router-node'], host).toBe(nodeOf.get(host));
        expect(r.headers['x-cache'], host).toBe('HIT'); // its cache survived: it did not move
      } else expect(r.headers['x-router-node'], host).not.toBe(victim);
    }
    const metrics = await get(`http://127.0.0.1:${rig.front.metricsPort}/metrics`);
    expect(metrics.body).toMatch(new RegExp(`router_node_available\\{node="${victim}",role="front"\\} 0`));
  });

  it('on SIGTERM: /ping turns 503 while the listener still accepts, in-flight requests finish, then it exits', async () => {
    await get(`${rig.origin.url}/__origin/delay?host=s3.farm.test&ms=1500`);
    const inflight = get(`${rig.front.url}/slow-${Date.now()}/`, edge('s3.farm.test'));
    await sleep(200);
    rig.front.proc.signal('SIGTERM');
    let ping = 0;
    for (let i = 0; i < 40 && ping !== 503; i++) {
      ping = (await get(`${rig.front.url}/ping`)).status;
      if (ping !== 503) await sleep(25);
    }
    expect(ping).toBe(503);
    const slow = await inflight;
    expect(slow.status).toBe(200);
    expect(await rig.front.proc.exited).toBe(0);
    expect(await tcpOpen(rig.front.port)).toBe(false);
  });
});
