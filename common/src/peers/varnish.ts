import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort, type ManagedProcess, startProcess } from '../process/managed.ts';

const run = promisify(execFile);

/** The farm's VCL folder (infra/varnish): the main VCL includes `backends.vcl` from the instance dir. */
export const VCL_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../infra/varnish');

export interface VarnishOptions {
  name?: string;
  /** Instance folder: work dir (-n), secret, generated backends.vcl and the log live here. */
  dir: string;
  port?: number;
  adminPort?: number;
  /** Backend every request goes to (written to backends.vcl as `default`). */
  backend: { host: string; port: number };
  /** Main VCL file; defaults to infra/varnish/default.vcl. */
  vcl?: string;
  /** Extra `-p name=value` runtime parameters. */
  params?: Record<string, string | number>;
  storage?: string;
  /** Secret required in the `x-purge-secret` header for BAN/PURGE (written to purge-secret.vcl). */
  purgeSecret?: string;
  /** Addresses or CIDRs BAN/PURGE may come from (written to purgers.vcl); loopback by default. */
  purgers?: readonly string[];
}

export interface VarnishInstance {
  name: string;
  port: number;
  adminPort: number;
  secretFile: string;
  process: ManagedProcess;
  /** Runs a varnishadm command (e.g. `ban.list`) and returns its output. */
  admin(...args: string[]): Promise<string>;
  stop(): Promise<void>;
}

/** Where purges come from on one machine: the local farm and the tests. */
export const LOOPBACK_PURGERS: readonly string[] = ['127.0.0.1', '::1'];

/** `acl purgers` (VCL) from addresses and CIDRs (`10.210.2.0/24`, `::1`). */
export function renderPurgersAcl(purgers: readonly string[]): string {
  const entries = purgers.map((p) => {
    const [addr = '', bits] = p.split('/');
    if (!isIP(addr) || (bits !== undefined && !/^\d{1,3}$/.test(bits)))
      throw new Error(`purgers: "${p}" is not an IP address or CIDR`);
    return bits === undefined ? `  "${addr}";` : `  "${addr}"/${bits};`;
  });
  return `acl purgers {\n${entries.join('\n')}\n}\n`;
}

/** Writes the per-instance includes that the farm's VCL expects. */
export function writeVarnishIncludes(
  dir: string,
  backend: { host: string; port: number },
  purgeSecret: string,
  purgers: readonly string[] = LOOPBACK_PURGERS,
): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'backends.vcl'),
    `# generated: the single backend of this Varnish instance\nbackend default {\n  .host = "${backend.host}";\n  .port = "${backend.port}";\n  .connect_timeout = 2s;\n  .first_byte_timeout = 30s;\n  .between_bytes_timeout = 10s;\n}\n`,
  );
  writeFileSync(
    join(dir, 'purge-secret.vcl'),
    `# generated: never commit\nsub farm_purge_secret { set req.http.x-farm-purge-secret-expected = "${purgeSecret}"; }\n`,
  );
  chmodSync(join(dir, 'purge-secret.vcl'), 0o644);
  writeFileSync(
    join(dir, 'purgers.vcl'),
    `# generated: where BAN/PURGE may come from (with the secret)\n${renderPurgersAcl(purgers)}`,
  );
}

/**
 * Starts a real varnishd in the foreground on loopback with the farm's VCL.
 * @example const v = await startVarnish({ dir, backend: { host: '127.0.0.1', port: originPort } })
 */
export async function startVarnish(opts: VarnishOptions): Promise<VarnishInstance> {
  const name = opts.name ?? 'varnish';
  const port = opts.port ?? (await freePort());
  const adminPort = opts.adminPort ?? (await freePort());
  mkdirSync(opts.dir, { recursive: true });
  chmodSync(opts.dir, 0o755); // varnishd drops to its own users; they read the includes here
  const secretFile = join(opts.dir, 'secret');
  writeFileSync(secretFile, randomBytes(32).toString('hex'), { mode: 0o600 });
  writeVarnishIncludes(
    opts.dir,
    opts.backend,
    opts.purgeSecret ?? randomBytes(16).toString('hex'),
    opts.purgers,
  );
  const params = Object.entries({
    vcl_path: `${opts.dir}:${VCL_DIR}:/usr/share/varnish/vcl`,
    ...(opts.params ?? {}),
  });
  const args = [
    '-F',
    // As root, varnishd's default jail drops to its own users, which cannot read includes under a
    // private (0700) temp or run folder. Loopback test/farm instances run unjailed instead.
    ...(process.getuid?.() === 0 ? ['-j', 'none'] : []),
    '-n',
    join(opts.dir, 'work'),
    '-a',
    `127.0.0.1:${port}`,
    '-T',
    `127.0.0.1:${adminPort}`,
    '-S',
    secretFile,
    '-f',
    opts.vcl ?? join(VCL_DIR, 'default.vcl'),
    '-s',
    opts.storage ?? 'malloc,128m',
    ...params.flatMap(([k, v]) => ['-p', `${k}=${v}`]),
  ];
  const proc = await startProcess({
    name,
    command: 'varnishd',
    args,
    logFile: join(opts.dir, 'varnishd.log'),
    ready: { tcp: port },
    readyTimeoutMs: 30_000,
  });
  const admin = async (...cmd: string[]) =>
    (await run('varnishadm', ['-T', `127.0.0.1:${adminPort}`, '-S', secretFile, ...cmd], { timeout: 10_000 }))
      .stdout;
  return { name, port, adminPort, secretFile, process: proc, admin, stop: () => proc.stop() };
}
