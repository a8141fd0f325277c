# Local stand-in for haproxy:2.9 (built by infra/swarm/bases.ts): Debian's HAProxy, the config
# where the official image reads it (/usr/local/etc/haproxy/haproxy.cfg, mounted by the stacks),
# master-worker in the foreground, user haproxy, SIGUSR1 for a soft stop. No config is shipped,
# as in the official image.
ARG DEBIAN_IMAGE=wpfarm-base/debian:bookworm
FROM ${DEBIAN_IMAGE}
COPY apt-install.sh /usr/local/sbin/apt-install
RUN apt-install haproxy \
 && mkdir -p /usr/local/etc/haproxy /var/lib/haproxy \
 && chown haproxy:haproxy /var/lib/haproxy \
 && haproxy -v
STOPSIGNAL SIGUSR1
USER haproxy
WORKDIR /var/lib/haproxy
CMD ["haproxy", "-W", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]
