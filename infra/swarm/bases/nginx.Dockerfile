# Local stand-in for nginx:1.27-alpine as the farm uses it (built by infra/swarm/bases.ts):
# Debian's nginx-light, /etc/nginx/conf.d/*.conf included (Debian's default site removed), logs to
# stdout/stderr, wget for the stacks' health checks, nginx in the foreground, SIGQUIT to drain.
ARG DEBIAN_IMAGE=wpfarm-base/debian:bookworm
FROM ${DEBIAN_IMAGE}
COPY apt-install.sh /usr/local/sbin/apt-install
RUN apt-install nginx-light wget \
 && rm -f /etc/nginx/sites-enabled/default \
 && grep -q 'include /etc/nginx/conf.d/\*.conf;' /etc/nginx/nginx.conf \
 && ln -sf /dev/stdout /var/log/nginx/access.log \
 && ln -sf /dev/stderr /var/log/nginx/error.log \
 && nginx -t
EXPOSE 80
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
