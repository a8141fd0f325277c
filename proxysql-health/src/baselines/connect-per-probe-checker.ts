/**
 * The comparison checker for the benchmark, NOT for production: the clustercheck pattern (Percona's
 * clustercheck, galera-healthcheck and friends), where every probe opens a fresh MariaDB
 * connection, asks `wsrep_local_state` (and `read_only`), and closes it. Written in Node with
 * mysql2 so the comparison is generous to it: the real clustercheck also forks a shell and a
 * mysql client per probe.
 *
 * `node connect-per-probe-checker.ts` with PORT, MYSQL_HOST, MYSQL_PORT, MYSQL_USER and
 * MYSQL_PASSWORD in the environment (this file is its own server.ts).
 */
import { createServer } from 'node:http';
import mysql from 'mysql2/promise';

const env = process.env;
const port = Number(env.PORT);
if (!Number.isInteger(port) || port <= 0) throw new Error('PORT is required');
const options: mysql.ConnectionOptions = {
  host: env.MYSQL_HOST || '127.0.0.1',
  port: Number(env.MYSQL_PORT || 3306),
  user: env.MYSQL_USER || 'health',
  password: env.MYSQL_PASSWORD || '',
  connectTimeout: 3000,
};

async function check(): Promise<boolean> {
  const conn = await mysql.createConnection(options);
  try {
    const [state] = await conn.query<mysql.RowDataPacket[]>({
      sql: "SHOW STATUS LIKE 'wsrep_local_state'",
      timeout: 3000,
    });
    const [ro] = await conn.query<mysql.RowDataPacket[]>({
      sql: "SHOW GLOBAL VARIABLES LIKE 'read_only'",
      timeout: 3000,
    });
    return state[0]?.Value === '4' && ro[0]?.Value === 'OFF';
  } finally {
    await conn.end().catch(() => conn.destroy());
  }
}

createServer((req, res) => {
  req.resume();
  check().then(
    (ok) => {
      const body = ok ? 'Galera node is synced.\n' : 'Galera node is not synced.\n';
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain', 'content-length': body.length });
      res.end(body);
    },
    () => {
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end('Galera node is not reachable.\n');
    },
  );
}).listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
