import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type NginxInstance, startNginx } from '@wpfarm/common/peers/nginx';

/** The 46 KB HTML page of the shared baselines (ENVIRONMENT.md), the same in every benchmark. */
export const PAGE_46K = `<!DOCTYPE html><html><body>${'<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit.</p>\n'.repeat(740)}</body></html>`;

/** nginx (1 worker) answering PAGE_46K for any host and path, as `text/html`. */
export async function startStaticPage(dir: string): Promise<{ nginx: NginxInstance; page: string }> {
  const html = join(dir, 'nginx', 'html');
  mkdirSync(html, { recursive: true });
  writeFileSync(join(html, 'index.html'), PAGE_46K);
  const nginx = await startNginx({
    dir: join(dir, 'nginx'),
    server: `root ${html}; location / { default_type text/html; try_files /index.html =404; }`,
  });
  return { nginx, page: PAGE_46K };
}
