# Local stand-in for prom/prometheus (built by infra/swarm/bases.ts): Debian's Prometheus laid out
# like the official image: ENTRYPOINT the binary (the stacks' `command:` are its flags), the
# config in /etc/prometheus, the TSDB in /prometheus, user nobody (65534), wget for health checks.
# Only the binaries (static but for libc) and /etc/prometheus are taken from the package: its web
# UI depends on ~220 MB of Debian's JavaScript packages, and the farm reads Prometheus through
# Grafana and the HTTP API.
ARG DEBIAN_IMAGE=wpfarm-base/debian:bookworm

FROM ${DEBIAN_IMAGE} AS package
COPY apt-install.sh /usr/local/sbin/apt-install
RUN apt-install prometheus

FROM ${DEBIAN_IMAGE}
COPY apt-install.sh /usr/local/sbin/apt-install
RUN apt-install ca-certificates wget \
 && mkdir -p /prometheus \
 && chown nobody:nogroup /prometheus
COPY --from=package /usr/bin/prometheus /usr/bin/promtool /usr/bin/
COPY --from=package /etc/prometheus /etc/prometheus
RUN prometheus --version && promtool --version
USER nobody
WORKDIR /prometheus
VOLUME /prometheus
EXPOSE 9090
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
