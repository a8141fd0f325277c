-- proxysql-admin-standin: a MariaDB schema reproducing the ProxySQL 2.x admin tables that
-- proxysql-health reads. ProxySQL cannot be installed on the build machines; this is NOT ProxySQL.
-- Column names and types follow ProxySQL 2.x's admin schema (main, stats and monitor databases).
-- Nothing here moves servers between hostgroups by itself: tests and the farm set the states.
CREATE DATABASE IF NOT EXISTS main;
CREATE DATABASE IF NOT EXISTS stats;
CREATE DATABASE IF NOT EXISTS monitor;

CREATE TABLE IF NOT EXISTS main.runtime_mysql_servers (
  hostgroup_id INT NOT NULL DEFAULT 0,
  hostname VARCHAR(255) NOT NULL,
  port INT NOT NULL DEFAULT 3306,
  gtid_port INT NOT NULL DEFAULT 0,
  status VARCHAR(16) NOT NULL DEFAULT 'ONLINE',
  weight INT NOT NULL DEFAULT 1,
  compression INT NOT NULL DEFAULT 0,
  max_connections INT NOT NULL DEFAULT 1000,
  max_replication_lag INT NOT NULL DEFAULT 0,
  use_ssl INT NOT NULL DEFAULT 0,
  max_latency_ms INT NOT NULL DEFAULT 0,
  comment VARCHAR(255) NOT NULL DEFAULT '',
  PRIMARY KEY (hostgroup_id, hostname, port)
);

CREATE TABLE IF NOT EXISTS main.runtime_mysql_galera_hostgroups (
  writer_hostgroup INT NOT NULL PRIMARY KEY,
  backup_writer_hostgroup INT NOT NULL,
  reader_hostgroup INT NOT NULL,
  offline_hostgroup INT NOT NULL,
  active INT NOT NULL DEFAULT 1,
  max_writers INT NOT NULL DEFAULT 1,
  writer_is_also_reader INT NOT NULL DEFAULT 0,
  max_transactions_behind INT NOT NULL DEFAULT 0,
  comment VARCHAR(255)
);

CREATE TABLE IF NOT EXISTS stats.stats_mysql_connection_pool (
  hostgroup INT,
  srv_host VARCHAR(255),
  srv_port INT,
  status VARCHAR(16),
  ConnUsed INT DEFAULT 0,
  ConnFree INT DEFAULT 0,
  ConnOK INT DEFAULT 0,
  ConnERR INT DEFAULT 0,
  MaxConnUsed INT DEFAULT 0,
  Queries BIGINT DEFAULT 0,
  Queries_GTID_sync BIGINT DEFAULT 0,
  Bytes_data_sent BIGINT DEFAULT 0,
  Bytes_data_recv BIGINT DEFAULT 0,
  Latency_us INT DEFAULT 0,
  PRIMARY KEY (hostgroup, srv_host, srv_port)
);

CREATE TABLE IF NOT EXISTS monitor.mysql_server_galera_log (
  hostname VARCHAR(255) NOT NULL,
  port INT NOT NULL DEFAULT 3306,
  time_start_us BIGINT NOT NULL DEFAULT 0,
  success_time_us BIGINT DEFAULT 0,
  primary_partition VARCHAR(3) DEFAULT 'YES',
  read_only VARCHAR(3) DEFAULT 'NO',
  wsrep_local_recv_queue INT DEFAULT 0,
  wsrep_local_state INT DEFAULT 0,
  wsrep_desync VARCHAR(3) DEFAULT 'NO',
  wsrep_reject_queries VARCHAR(3) DEFAULT 'NO',
  wsrep_sst_donor_rejects_queries VARCHAR(3) DEFAULT 'NO',
  pxc_maint_mode VARCHAR(3) DEFAULT 'NO',
  error VARCHAR(255),
  PRIMARY KEY (hostname, port, time_start_us)
);
