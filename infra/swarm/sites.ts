/**
 * The site steps of the runbook ("Adding a site") that the local profile performs itself: each
 * site's database and user on Galera (its password from the site's `db_<id>` secret), then a
 * real WordPress installed into it with a few posts, from inside the site's php container.
 * SQL and passwords go to stdin, never to argv.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Registry, Site } from '@wpfarm/common/registry/schema';
import { siteDbName, siteStack } from '../src/render.ts';
import { taskContainer } from './deploy.ts';
import { docker, waitFor } from './docker.ts';

/** SQL string literal (the values are generated hex, but quote them properly anyway). */
const lit = (s: string) => `'${s.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;

/** Creates (idempotently) every site's database and user on the running Galera cluster. */
export async function createSiteDatabases(
  sites: readonly Site[],
  dbPassword: (site: Site) => string,
  log: (s: string) => void,
): Promise<void> {
  const sql = sites
    .map((site) => {
      const db = siteDbName(site);
      const pw = lit(dbPassword(site));
      return [
        `CREATE DATABASE IF NOT EXISTS \`${db}\` CHARACTER SET utf8mb4;`,
        `CREATE USER IF NOT EXISTS '${db}'@'%' IDENTIFIED BY ${pw};`,
        `ALTER USER '${db}'@'%' IDENTIFIED BY ${pw};`,
        `GRANT ALL ON \`${db}\`.* TO '${db}'@'%';`,
      ].join('\n');
    })
    .join('\n');
  // Root over the local socket (the image's root has unix_socket auth for the OS root), once the
  // node answers (after a deploy it may still be joining).
  await waitFor(
    'db_galera-1 to take the site databases',
    async () => {
      const galera = await taskContainer('db_galera-1');
      await docker(['exec', '-i', '-u', '0', galera, 'mariadb', '-uroot'], { input: sql, timeoutMs: 60_000 });
      return true;
    },
    300_000,
    5_000,
  );
  log(`databases: ${sites.map(siteDbName).join(', ')}`);
}

const INSTALL_PHP = `<?php
// Installs WordPress for the site named by the first line of stdin's JSON and seeds it.
$in = json_decode(stream_get_contents(STDIN), true);
$_SERVER['HTTP_HOST'] = $in['host'];
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['HTTPS'] = 'on';
define('WP_INSTALLING', true);
require '/var/www/html/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
$url = 'https://' . $in['host'];
if (!is_blog_installed()) {
    wp_install($in['title'], 'admin', 'admin@' . $in['host'], true, '', $in['password']);
} else {
    wp_set_password($in['password'], 1);
}
update_option('siteurl', $url);
update_option('home', $url);
update_option('permalink_structure', '/%year%/%monthnum%/%postname%/');
if ((int) wp_count_posts()->publish < 5) {
    for ($i = 1; $i <= 5; $i++) {
        wp_insert_post(['post_title' => $in['title'] . " post $i", 'post_status' => 'publish',
            'post_content' => str_repeat("Words of {$in['title']} post $i. ", 200)]);
    }
}
echo json_encode(['installed' => is_blog_installed(), 'home' => home_url('/')]), "\\n";
`;

/** Installs WordPress on each site through its own php container (as www-data). */
export async function installWordPress(
  registry: Registry,
  runDir: string,
  log: (s: string) => void,
): Promise<void> {
  const logins: string[] = [];
  for (const site of registry.sites) {
    const php = await taskContainer(`${siteStack(site)}_php`);
    const password = randomBytes(12).toString('hex');
    // The script goes in as a file (php would read stdin as the script); the data on stdin.
    await docker(['exec', '-i', '-u', '33', php, 'sh', '-c', 'cat > /tmp/farm-install.php'], {
      input: INSTALL_PHP,
    });
    const r = await docker(['exec', '-i', '-u', '33', php, 'php', '/tmp/farm-install.php'], {
      input: JSON.stringify({ host: site.host, title: site.id, password }),
      timeoutMs: 120_000,
    });
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as { installed?: boolean };
    if (!out.installed) throw new Error(`WordPress install of ${site.id} failed: ${r.stdout}${r.stderr}`);
    logins.push(`${site.id} https://${site.host}/wp-admin/ admin ${password}`);
  }
  writeFileSync(join(runDir, 'wordpress-logins.txt'), `${logins.join('\n')}\n`, { mode: 0o600 });
  log(
    `WordPress installed: ${registry.sites.map((s) => s.id).join(', ')} (logins in ${join(runDir, 'wordpress-logins.txt')})`,
  );
}
