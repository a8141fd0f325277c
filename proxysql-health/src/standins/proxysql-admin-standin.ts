/**
 * proxysql-admin-standin: ProxySQL 2.x's admin tables as a MariaDB schema (see the .sql file and
 * docs/decisions/health-proxysql-admin-standin.md). ProxySQL cannot be installed here; the
 * checker reads these tables with the same schema-qualified queries it sends to ProxySQL.
 */
import { readFileSync } from 'node:fs';

/** Runs one statement against the MariaDB hosting the stand-in. */
export type Query = (sql: string, params?: unknown[]) => Promise<unknown>;

/** The read-only user the checker uses, as ProxySQL's `admin-stats_credentials`. */
export const STANDIN_STATS_USER = { user: 'stats', password: 'stats-standin-password' };

/** ProxySQL hostgroups of the Galera hostgroup set the stand-in describes. */
export const HOSTGROUPS = Object.freeze({ writer: 10, backupWriter: 20, reader: 30, offline: 40 });

const SQL = readFileSync(new URL('./proxysql-admin-standin.sql', import.meta.url), 'utf8');

/**
 * Creates the schema and fills it as ProxySQL would for a healthy cluster: the first node the
 * writer, the others backup writers and readers, everything ONLINE.
 */
export async function installStandin(query: Query, nodes: { host: string; port: number }[]): Promise<void> {
  for (const stmt of SQL.replace(/^--.*$/gm, '').split(';')) if (stmt.trim()) await query(stmt);
  const u = STANDIN_STATS_USER;
  await query(`CREATE USER IF NOT EXISTS '${u.user}'@'127.0.0.1' IDENTIFIED BY '${u.password}'`);
  for (const db of ['main', 'stats', 'monitor'])
    await query(`GRANT SELECT ON ${db}.* TO '${u.user}'@'127.0.0.1'`);
  await query('DELETE FROM main.runtime_mysql_galera_hostgroups');
  await query('DELETE FROM main.runtime_mysql_servers');
  await query('DELETE FROM stats.stats_mysql_connection_pool');
  await query('DELETE FROM monitor.mysql_server_galera_log');
  const h = HOSTGROUPS;
  await query(
    'INSERT INTO main.runtime_mysql_galera_hostgroups (writer_hostgroup, backup_writer_hostgroup, reader_hostgroup, offline_hostgroup, active, max_writers, writer_is_also_reader) VALUES (?, ?, ?, ?, 1, 1, 0)',
    [h.writer, h.backupWriter, h.reader, h.offline],
  );
  const rows: [number, { host: string; port: number }][] = [];
  nodes.forEach((n, i) => {
    if (i === 0) rows.push([h.writer, n]);
    else rows.push([h.backupWriter, n], [h.reader, n]);
  });
  // A single node is its own reader too (writer_is_also_reader would say so on ProxySQL).
  if (nodes.length === 1 && nodes[0]) rows.push([h.reader, nodes[0]]);
  for (const [hg, n] of rows) {
    await query('INSERT INTO main.runtime_mysql_servers (hostgroup_id, hostname, port) VALUES (?, ?, ?)', [
      hg,
      n.host,
      n.port,
    ]);
    await query(
      "INSERT INTO stats.stats_mysql_connection_pool (hostgroup, srv_host, srv_port, status) VALUES (?, ?, ?, 'ONLINE')",
      [hg, n.host, n.port],
    );
  }
}

/** Sets the status of every pool row of `hostgroup` (all servers, or one port), as ProxySQL's monitor would. */
export async function setPoolStatus(
  query: Query,
  hostgroup: number,
  status: string,
  port?: number,
): Promise<void> {
  const where = port === undefined ? '' : ' AND srv_port = ?';
  const params: unknown[] = [status, hostgroup];
  if (port !== undefined) params.push(port);
  await query(`UPDATE stats.stats_mysql_connection_pool SET status = ? WHERE hostgroup = ?${where}`, params);
  await query(
    `UPDATE main.runtime_mysql_servers SET status = ? WHERE hostgroup_id = ?${where.replace('srv_port', 'port')}`,
    params,
  );
}
