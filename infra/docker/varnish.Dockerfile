# The cache tier's Varnish: the official image (varnish-modules, incl. xkey and directors, ships
# in it) with the farm's VCL and entrypoint baked in. Per-deployment includes come from Swarm at
# run time: purgers.vcl (config) and purge-secret.vcl (templated secret), found through vcl_path;
# backends.vcl is rendered in the container by the entrypoint from VARNISH_BACKEND (docker/varnish/).
#   docker build -f infra/docker/varnish.Dockerfile -t $IMAGE_REGISTRY/varnish:$FARM_VERSION .
# Plain Dockerfile syntax (no BuildKit features): builds on any engine. VARNISH_IMAGE swaps the
# base for a compatible one (a mirror, or a local stand-in with the same user and paths).
ARG VARNISH_IMAGE=varnish:7.6
FROM ${VARNISH_IMAGE}
USER root
COPY --chown=root:root infra/varnish/*.vcl /etc/varnish/
COPY --chown=root:root infra/docker/varnish/entrypoint.sh /usr/local/bin/farm-varnish-entrypoint
COPY --chown=root:root infra/docker/varnish/healthcheck.sh /usr/local/bin/farm-varnish-healthcheck
# The stack mounts an exec-capable tmpfs volume on /var/lib/varnish/farm (the varnishd working dir
# and the rendered backends.vcl); without one, the image's own folder serves (on the container's
# disk).
RUN chmod 0644 /etc/varnish/*.vcl \
 && chmod 0755 /usr/local/bin/farm-varnish-entrypoint /usr/local/bin/farm-varnish-healthcheck \
 && mkdir -p /var/lib/varnish/farm \
 && chown varnish:varnish /var/lib/varnish/farm
# varnishd runs as the image's unprivileged user `varnish` (port 6081 needs no root), in the
# foreground (-F) as PID 1: the entrypoint execs it after starting the backend watcher.
USER varnish
ENTRYPOINT ["/usr/local/bin/farm-varnish-entrypoint"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 CMD ["/usr/local/bin/farm-varnish-healthcheck", "/var/lib/varnish/farm/varnishd"]
