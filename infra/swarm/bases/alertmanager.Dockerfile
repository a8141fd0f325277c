# Local stand-in for prom/alertmanager (built by infra/swarm/bases.ts): Debian's Alertmanager
# laid out like the official image: `alertmanager` and `amtool` on PATH, ENTRYPOINT the binary
# (the stacks' `command:` are its flags), config in /etc/alertmanager (Debian's default copied
# there), data in /alertmanager, user nobody (65534), wget for health checks.
ARG DEBIAN_IMAGE=wpfarm-base/debian:bookworm
FROM ${DEBIAN_IMAGE}
COPY apt-install.sh /usr/local/sbin/apt-install
RUN apt-install prometheus-alertmanager ca-certificates wget \
 && ln -s prometheus-alertmanager /usr/bin/alertmanager \
 && mkdir -p /etc/alertmanager \
 && cp /etc/prometheus/alertmanager.yml /etc/alertmanager/alertmanager.yml \
 && mkdir -p /alertmanager \
 && chown nobody:nogroup /alertmanager \
 && alertmanager --version && amtool --version
USER nobody
WORKDIR /alertmanager
VOLUME /alertmanager
EXPOSE 9093
ENTRYPOINT ["/usr/bin/alertmanager"]
CMD ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"]
