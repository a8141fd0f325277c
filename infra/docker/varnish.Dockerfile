# syntax=docker/dockerfile:1.7
# The cache tier's Varnish: the official image (varnish-modules, incl. xkey, ships in it) with
# the farm's VCL baked in. Per-deployment includes come from Swarm at run time:
# backends.vcl and purgers.vcl (configs) and purge-secret.vcl (templated secret), found through
# vcl_path.
#   docker build -f infra/docker/varnish.Dockerfile -t $IMAGE_REGISTRY/varnish:$FARM_VERSION .
FROM varnish:7.6
COPY --chown=root:root infra/varnish/*.vcl /etc/varnish/
# The image runs as its unprivileged user `varnish` (port 6081 needs no root); the stack's command
# runs varnishd in the foreground (-F) as PID 1, its working directory on a tmpfs.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 CMD ["varnishadm", "-n", "/var/lib/varnish/farm", "ping"]
