# Local stand-in for mariadb:10.11 (built by infra/swarm/bases.ts): Debian's MariaDB 10.11 with
# Galera 4, mariadb-backup and socat (SST), laid out like the official image: mariadbd, mariadb
# and mariadb-install-db on PATH, /usr/lib/galera/libgalera_smm.so, an empty datadir
# /var/lib/mysql owned by mysql (uid/gid 999, the uid the stacks give their secrets), listening
# on every interface. No entrypoint: the farm's Galera image brings its own.
ARG DEBIAN_IMAGE=wpfarm-base/debian:bookworm
FROM ${DEBIAN_IMAGE}
COPY apt-install.sh /usr/local/sbin/apt-install
# The user first, with the official image's ids, so the package finds it and keeps it. The
# package initialises a datadir: removed, the official image ships it empty (its entrypoint, or
# the farm's, initialises it on the volume). Debian binds to 127.0.0.1; the official image
# listens everywhere and skips name resolution. iproute2: the SST scripts look for listeners with ss.
RUN groupadd --system --gid 999 mysql \
 && useradd --system --uid 999 --gid mysql --home-dir /var/lib/mysql --no-create-home --shell /usr/sbin/nologin mysql \
 && apt-install mariadb-server mariadb-client mariadb-backup galera-4 socat iproute2 tzdata \
 && rm -rf /var/lib/mysql \
 && mkdir -p /var/lib/mysql /run/mysqld \
 && chown mysql:mysql /var/lib/mysql /run/mysqld \
 && chmod 1777 /run/mysqld \
 && sed -i -e 's/^bind-address/#&/' /etc/mysql/mariadb.conf.d/50-server.cnf \
 && printf '[mariadb]\nhost-cache-size=0\nskip-name-resolve\n' > /etc/mysql/mariadb.conf.d/05-skipcache.cnf \
 && test -e /usr/lib/galera/libgalera_smm.so \
 && mariadbd --version
VOLUME /var/lib/mysql
USER mysql
EXPOSE 3306
CMD ["mariadbd"]
