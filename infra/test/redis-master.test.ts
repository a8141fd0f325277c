/**
 * The Redis master tracker (stacks/redis/redis-master.cfg + redis-master.lua) for real: haproxy
 * (Debian's 2.6 here; the stack runs the official 2.9) in front of three redis-server on loopback,
 * one master and two replicas, resolved through a DNS stub the test controls (Swarm's resolver
 * stands at 127.0.0.11 in production). The config is the stack's own file with only the
 * addresses changed. Every test connects at once and keeps connecting, and asserts from both
 * sides that no write ever reached a replica: no READONLY answer, and no rejected SET in the
 * replicas' INFO commandstats. The health check is the stack's own command.
 */
import { execFile } from 'node:child_process';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { redisArgs } from '@wpfarm/common/peers/redis';
import { freePort, type ManagedProcess, startProcess } from '@wpfarm/common/process/managed';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { STACKS, stackConfig } from './helpers.ts';

const exec = promisify(execFile);

/** A DNS stub over UDP: A records from `records` (changed by the tests), NXDOMAIN for the rest. */
async function startDns(records: Map<string, string>): Promise<{ port: number; close(): void }> {
  const sock: UdpSocket = createSocket('udp4');
  sock.on('message', (msg, peer) => {
    let off = 12;
    const labels: string[] = [];
    while (msg[off]) {
      labels.push(msg.subarray(off + 1, off + 1 + msg[off]!).toString());
      off += msg[off]! + 1;
    }
    off += 1;
    const qtype = msg.readUInt16BE(off);
    off += 4;
    const ip = records.get(labels.join('.').toLowerCase());
    const header = Buffer.alloc(12);
    msg.copy(header, 0, 0, 2); // id
    header.writeUInt16BE(0x8180 | (ip ? 0 : 3), 2); // response, recursion available, NOERROR/NXDOMAIN
    header.writeUInt16BE(1, 4);
    const answers: Buffer[] = [];
    if (ip && qtype === 1) {
      const rr = Buffer.alloc(16);
      rr.writeUInt16BE(0xc00c, 0); // the question's name
      rr.writeUInt16BE(1, 2); // A
      rr.writeUInt16BE(1, 4); // IN
      rr.writeUInt32BE(1, 6); // TTL
      rr.writeUInt16BE(4, 10);
      ip.split('.').forEach((p, i) => {
        rr[12 + i] = Number(p);
      });
      answers.push(rr);
    }
    header.writeUInt16BE(answers.length, 6);
    sock.send(Buffer.concat([header, msg.subarray(12, off), ...answers]), peer.port, peer.address);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  return { port: sock.address().port, close: () => sock.close() };
}

/** One fresh connection, one SET: its answer, or how the connection ended. */
function setOnce(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let buf = '';
    let done = false;
    const end = (r: string) => {
      if (done) return;
      done = true;
      s.destroy();
      resolve(r);
    };
    s.on('connect', () => s.write('SET farm-probe 1\r\n'));
    s.on('data', (d) => {
      buf += d;
      if (buf.includes('\r\n')) end(buf.startsWith('+OK') ? 'OK' : buf.split(' ')[0]!.replace(/^-/, ''));
    });
    s.on('error', () => end('closed'));
    s.on('close', () => end('closed'));
    s.setTimeout(2_000, () => end('timeout'));
  });
}

/** Connects again and again for `ms`: how many of each outcome. */
async function hammer(port: number, ms: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const r = await setOnce(port);
    counts[r] = (counts[r] ?? 0) + 1;
    await sleep(5);
  }
  return counts;
}

const cli = async (port: number, ...args: string[]) =>
  (await exec('redis-cli', ['-p', String(port), ...args])).stdout;
/**
 * A server's SET statistics: `calls` executed (on a replica these are the master's, replicated)
 * and `rejected` before execution (a client's write on a replica: READONLY).
 */
const setStats = async (port: number) => {
  const m = /cmdstat_set:calls=(\d+).*?rejected_calls=(\d+)/.exec(await cli(port, 'info', 'commandstats'));
  return { calls: Number(m?.[1] ?? 0), rejected: Number(m?.[2] ?? 0) };
};

const until = async (what: string, check: () => Promise<boolean> | boolean, timeoutMs = 15_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(100);
  }
};

describe('redis-master: HAProxy never sends to a Redis before its role check passed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'redis-master-'));
  const records = new Map<string, string>();
  let dns: Awaited<ReturnType<typeof startDns>>;
  const redis: { name: string; port: number; proc: ManagedProcess }[] = [];
  let haproxy: ManagedProcess | undefined;
  let port = 0;
  let healthPort = 0;
  let healthCmd: string[] = [];

  const resolveAll = () => {
    for (const r of redis) records.set(`${r.name}.test`, '127.0.0.1');
  };
  const startHaproxy = async () => {
    port = await freePort();
    healthPort = await freePort();
    const cfg = readFileSync(join(STACKS, 'redis/redis-master.cfg'), 'utf8')
      .replace('nameserver dns 127.0.0.11:53', `nameserver dns 127.0.0.1:${dns.port}`)
      .replace(/^ {2}bind :6379$/m, `  bind 127.0.0.1:${port}`)
      .replace(/^ {2}bind :8405$/m, `  bind 127.0.0.1:${healthPort}`)
      .replace(/cache_redis-(\d):6379/g, (_m, n: string) => `redis-${n}.test:${redis[Number(n) - 1]!.port}`);
    expect(cfg).not.toMatch(/:6379|:8405|127\.0\.0\.11/); // every address replaced, nothing else
    writeFileSync(join(dir, 'haproxy.cfg'), cfg);
    haproxy = await startProcess({
      name: 'redis-master',
      command: 'haproxy',
      args: ['-db', '-f', join(dir, 'haproxy.cfg')],
      logFile: join(dir, 'haproxy.log'),
      ready: { tcp: port },
    });
  };
  /** The stack's health check command, run here against this HAProxy: true when it exits 0. */
  const healthy = async () => {
    const [cmd, ...args] = healthCmd.map((a) => a.replace('/127.0.0.1/8405', `/127.0.0.1/${healthPort}`));
    return exec(cmd!, args).then(
      () => true,
      () => false,
    );
  };

  beforeAll(async () => {
    dns = await startDns(records);
    copyFileSync(join(STACKS, 'redis/redis-master.lua'), join(dir, 'redis-master.lua'));
    for (const n of [1, 2, 3]) {
      const p = await freePort();
      const args = redisArgs(p, dir, false).concat(['--dbfilename', `dump-${n}.rdb`]);
      if (n > 1) args.push('--replicaof', '127.0.0.1', String(redis[0]!.port));
      redis.push({
        name: `redis-${n}`,
        port: p,
        proc: await startProcess({
          name: `redis-${n}`,
          command: 'redis-server',
          args,
          logFile: join(dir, `redis-${n}.log`),
          ready: { tcp: p },
        }),
      });
    }
    for (const r of redis.slice(1))
      await until(`${r.name} in sync`, async () =>
        (await cli(r.port, 'info', 'replication')).includes('master_link_status:up'),
      );
    const stack = await stackConfig([join(STACKS, 'cache.yml')]);
    healthCmd = stack.services['redis-master']!.healthcheck!.test!.slice(1); // after "CMD"
    expect(healthCmd[0]).toBe('bash');
  });

  afterEach(async () => {
    await haproxy?.stop();
    haproxy = undefined;
  });

  afterAll(async () => {
    await Promise.all(redis.map((r) => r.proc.stop()));
    dns?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('at start, every name resolving: connections are closed until the checks settle, then reach the master only', async () => {
    resolveAll();
    const before = await Promise.all(redis.map((r) => setStats(r.port)));
    await startHaproxy();
    const counts = await hammer(port, 3_000); // from the first moment the port accepts
    expect(counts.READONLY ?? 0).toBe(0);
    expect(counts.OK).toBeGreaterThan(0);
    const after = await Promise.all(redis.map((r) => setStats(r.port)));
    expect(after[0]!.calls - before[0]!.calls).toBe(counts.OK); // every SET ran on the master
    // Not one client SET reached a replica (it would be rejected there: READONLY).
    expect(after.map((a, i) => a.rejected - before[i]!.rejected)).toEqual([0, 0, 0]);
    expect(await healthy()).toBe(true);
  });

  it("a replica whose name resolves before the master's is never used (it is UP before its first check)", async () => {
    records.clear();
    records.set('redis-2.test', '127.0.0.1');
    const replicaBefore = await setStats(redis[1]!.port);
    await startHaproxy();
    const counts = await hammer(port, 3_000);
    expect(counts).toEqual({ closed: expect.any(Number) }); // neither READONLY nor OK: refused
    expect(await healthy()).toBe(false);
    resolveAll();
    await until('the master takes writes', async () => (await setOnce(port)) === 'OK');
    expect(await healthy()).toBe(true);
    expect((await hammer(port, 1_000)).READONLY ?? 0).toBe(0);
    expect((await setStats(redis[1]!.port)).rejected).toBe(replicaBefore.rejected);
  });

  it('two masters (a replica promoted, the old master still up): refused and unhealthy until one is left', async () => {
    resolveAll();
    await startHaproxy();
    await until('ready', async () => (await setOnce(port)) === 'OK');
    await cli(redis[2]!.port, 'replicaof', 'no', 'one');
    try {
      await until('unhealthy', async () => !(await healthy()));
      expect(await setOnce(port)).toBe('closed');
    } finally {
      await cli(redis[2]!.port, 'replicaof', '127.0.0.1', String(redis[0]!.port));
    }
    await until('healthy again', healthy);
    expect(await setOnce(port)).toBe('OK');
  });

  it('failover: sessions on the demoted master are cut; new connections write to the promoted one', async () => {
    resolveAll();
    await startHaproxy();
    await until('ready', async () => (await setOnce(port)) === 'OK');
    const held = connect(port, '127.0.0.1');
    const heldClosed = new Promise<void>((r) => held.on('close', () => r()));
    held.on('error', () => {});
    const [oldMaster, promoted] = [redis[0]!, redis[1]!];
    try {
      await cli(promoted.port, 'replicaof', 'no', 'one');
      await cli(oldMaster.port, 'replicaof', '127.0.0.1', String(promoted.port));
      await cli(redis[2]!.port, 'replicaof', '127.0.0.1', String(promoted.port));
      // on-marked-down shutdown-sessions (bounded: a hang here would say nothing).
      await Promise.race([
        heldClosed,
        sleep(10_000).then(() => Promise.reject(new Error('the session on the demoted master was not cut'))),
      ]);
      const before = await setStats(promoted.port);
      await until('the promoted master takes writes', async () => (await setOnce(port)) === 'OK');
      expect((await setStats(promoted.port)).calls).toBeGreaterThan(before.calls);
      expect((await hammer(port, 1_000)).READONLY ?? 0).toBe(0);
    } finally {
      held.destroy();
      // Back to redis-1 as master for any later test.
      await cli(oldMaster.port, 'replicaof', 'no', 'one');
      await cli(promoted.port, 'replicaof', '127.0.0.1', String(oldMaster.port));
      await cli(redis[2]!.port, 'replicaof', '127.0.0.1', String(oldMaster.port));
    }
  });
});
