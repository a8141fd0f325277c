import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, type ManagedProcess, startProcess } from '../process/managed.ts';

export interface NginxOptions {
  name?: string;
  dir: string;
  port?: number;
  /** The body of the `http {}` block's `server {}`; `{{PORT}}` is replaced by the listen port. */
  server?: string;
  /** Extra directives inside `http {}` (e.g. upstream blocks). */
  http?: string;
  workers?: number;
}

export interface NginxInstance {
  name: string;
  port: number;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/** Starts a real nginx in the foreground on loopback with a generated config. */
export async function startNginx(opts: NginxOptions): Promise<NginxInstance> {
  const name = opts.name ?? 'nginx';
  const port = opts.port ?? (await freePort());
  mkdirSync(join(opts.dir, 'tmp'), { recursive: true });
  const server = (opts.server ?? `root ${opts.dir}/html;`).replaceAll('{{PORT}}', String(port));
  // As root, nginx workers would drop to `nobody`, who cannot read a private (0700) temp folder.
  const user = process.getuid?.() === 0 ? 'user root;\n' : '';
  const conf = `${user}worker_processes ${opts.workers ?? 1};
daemon off;
pid ${opts.dir}/nginx.pid;
error_log ${opts.dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${opts.dir}/tmp/body;
  proxy_temp_path ${opts.dir}/tmp/proxy;
  fastcgi_temp_path ${opts.dir}/tmp/fastcgi;
  uwsgi_temp_path ${opts.dir}/tmp/uwsgi;
  scgi_temp_path ${opts.dir}/tmp/scgi;
  keepalive_requests 100000;
  ${opts.http ?? ''}
  server {
    listen 127.0.0.1:${port};
    ${server}
  }
}
`;
  const confFile = join(opts.dir, 'nginx.conf');
  writeFileSync(confFile, conf);
  const proc = await startProcess({
    name,
    command: 'nginx',
    args: ['-p', opts.dir, '-c', confFile],
    logFile: join(opts.dir, 'nginx.log'),
    ready: { tcp: port },
  });
  return { name, port, process: proc, stop: () => proc.stop() };
}
