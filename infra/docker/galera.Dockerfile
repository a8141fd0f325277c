# The farm's MariaDB Galera node: the stock MariaDB 10.11 image plus the farm's entrypoint, which
# elects the bootstrap node by itself (first start, full-cluster restart, crash recovery, redeploy)
# and creates the SST and monitor users before any joiner can connect, and a cheap health check.
# See infra/docker/galera/galera-entrypoint.sh and infra/README.md ("Galera: start, full restart,
# recovery"). Works on the official image (default) and on the local Debian-based stand-in:
#   docker build -f infra/docker/galera.Dockerfile -t $IMAGE_REGISTRY/galera:$FARM_VERSION .
#   docker build -f infra/docker/galera.Dockerfile --build-arg MARIADB_IMAGE=wpfarm-base/mariadb:10.11 ...
# The official image's docker-entrypoint.sh is not used: galera-entrypoint needs only mariadbd,
# mariadb, mariadb-install-db, galera-4, mariabackup and socat, plus ip (its own address) and, for
# the SST scripts, ss or lsof and ps.
ARG MARIADB_IMAGE=mariadb:10.11
FROM ${MARIADB_IMAGE}

USER root
RUN set -e; \
    missing=""; \
    command -v socat >/dev/null 2>&1 || missing="$missing socat"; \
    { command -v ip >/dev/null 2>&1 && { command -v ss >/dev/null 2>&1 || command -v lsof >/dev/null 2>&1; }; } || missing="$missing iproute2"; \
    command -v ps >/dev/null 2>&1 || missing="$missing procps"; \
    if [ -n "$missing" ]; then \
      apt-get update; \
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing; \
      rm -rf /var/lib/apt/lists/*; \
    fi; \
    for b in mariadbd mariadb mariadb-install-db socat timeout getent ip; do \
      command -v "$b" >/dev/null 2>&1 || { echo "galera image: $b missing" >&2; exit 1; }; \
    done; \
    command -v mariabackup >/dev/null 2>&1 || command -v mariadb-backup >/dev/null 2>&1 || { echo "galera image: mariabackup missing" >&2; exit 1; }; \
    test -e /usr/lib/galera/libgalera_smm.so || { echo "galera image: /usr/lib/galera/libgalera_smm.so missing" >&2; exit 1; }; \
    id -u mysql | grep -qx 999 || { echo "galera image: user mysql must be uid 999 (the stack mounts secrets for 999)" >&2; exit 1; }; \
    mkdir -p /run/mysqld /var/lib/mysql; \
    chown mysql:mysql /run/mysqld /var/lib/mysql

COPY infra/docker/galera/galera-entrypoint.sh /usr/local/bin/galera-entrypoint
COPY infra/docker/galera/galera-healthcheck.sh /usr/local/bin/galera-healthcheck
RUN chmod 0755 /usr/local/bin/galera-entrypoint /usr/local/bin/galera-healthcheck

USER mysql
# 3306 SQL, 4444 SST, 4567 group communication, 4568 IST, 4569 election (position exchange).
EXPOSE 3306 4444 4567 4568 4569
VOLUME /var/lib/mysql
ENTRYPOINT ["galera-entrypoint"]
CMD ["mariadbd"]
HEALTHCHECK --interval=10s --timeout=5s --start-period=30m --retries=6 CMD ["galera-healthcheck"]
