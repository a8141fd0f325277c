# Local stand-in for varnish:7.6 (built by infra/swarm/bases.ts): Debian's Varnish 7 with
# varnish-modules (xkey), varnishd and varnishadm on PATH, /etc/varnish, a working directory
# under /var/lib/varnish, running as the unprivileged user varnish like the official image.
# varnishd compiles VCL with cc at run time, hence gcc and libc6-dev (package dependencies).
ARG DEBIAN_IMAGE=wpfarm-base/debian:bookworm
FROM ${DEBIAN_IMAGE}
COPY apt-install.sh /usr/local/sbin/apt-install
RUN apt-install varnish varnish-modules \
 && mkdir -p /var/lib/varnish \
 && chown -R varnish:varnish /var/lib/varnish /etc/varnish \
 && varnishd -V
USER varnish
WORKDIR /etc/varnish
EXPOSE 80 8443
# The official image's defaults (its entrypoint's): foreground, default.vcl, HTTP on 80, PROXY
# on 8443, 100 MB of malloc.
CMD ["varnishd", "-F", "-f", "/etc/varnish/default.vcl", "-a", "http=:80,HTTP", "-a", "proxy=:8443,PROXY", "-p", "feature=+http2", "-s", "malloc,100M"]
