# Local stand-in for redis:7.2 (built by infra/swarm/bases.ts): Debian's Redis 7 with Sentinel
# and redis-cli, user redis with the official image's uid/gid 999, WORKDIR /data owned by it.
ARG DEBIAN_IMAGE=wpfarm-base/debian:bookworm
FROM ${DEBIAN_IMAGE}
COPY apt-install.sh /usr/local/sbin/apt-install
RUN groupadd --system --gid 999 redis \
 && useradd --system --uid 999 --gid redis --home-dir /data --no-create-home --shell /usr/sbin/nologin redis \
 && apt-install redis-server redis-sentinel redis-tools \
 && mkdir -p /data && chown redis:redis /data \
 && redis-server --version
# The official image drops to redis in its entrypoint; with no entrypoint here, the image's user.
USER redis
WORKDIR /data
VOLUME /data
EXPOSE 6379
CMD ["redis-server"]
