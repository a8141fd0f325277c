# The per-site WordPress images, two targets from one file (build context: repository root):
#   docker build -f infra/docker/wordpress.Dockerfile --target php   -t $IMAGE_REGISTRY/wordpress-php:$FARM_VERSION .
#   docker build -f infra/docker/wordpress.Dockerfile --target nginx -t $IMAGE_REGISTRY/wordpress-nginx:$FARM_VERSION .
# WordPress core and the farm's mu-plugin are baked in; wp-content (uploads, plugins, themes) is
# the site's NFS volume. The mu-plugin lives outside wp-content (WPMU_PLUGIN_DIR), so every site
# runs the image's version of it and a volume can never shadow it.
# Any engine builds it, the legacy builder as well as BuildKit: no syntax line, no RUN --mount, no
# COPY --chmod. The base images are ARGs defaulting to the official images; the local Swarm
# profile passes Debian-built ones laid out the same way (infra/swarm/bases.ts).
ARG WORDPRESS_IMAGE=wordpress:6.7-php8.3-fpm
ARG NGINX_IMAGE=nginx:1.27-alpine

FROM ${WORDPRESS_IMAGE} AS php
# The health check (php-fpm-healthcheck) asks a pool of its own, `farm-health` (one worker, on
# 127.0.0.1:9001 only), for its ping: a busy site fills every `www` worker and queues requests,
# and a check that waited in that queue timed out, so Swarm killed healthy tasks of a busy site
# and the survivors got its whole load (seen on the one-node Swarm under a rolling update). The
# check proves the master runs and spawns workers; stuck `www` workers are php-fpm's own job
# (request_terminate_timeout). The `www` pool keeps its ping path for monitoring, unlogged
# (access.suppress_path, PHP >= 8.2).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libfcgi-bin \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && { echo '[www]'; echo 'pm.status_path = /fpm-status'; echo 'ping.path = /fpm-ping'; \
      echo 'access.suppress_path[] = /fpm-ping'; \
      echo 'pm = dynamic'; echo 'pm.max_children = 20'; echo 'pm.max_requests = 1000'; \
      echo 'request_terminate_timeout = 120s'; } > /usr/local/etc/php-fpm.d/zz-farm.conf \
 && { echo '[farm-health]'; echo 'user = www-data'; echo 'group = www-data'; \
      echo 'listen = 127.0.0.1:9001'; echo 'pm = static'; echo 'pm.max_children = 1'; \
      echo 'ping.path = /fpm-ping'; } > /usr/local/etc/php-fpm.d/zz-farm-health.conf \
 && { echo '[global]'; echo 'process_control_timeout = 30s'; } > /usr/local/etc/php-fpm.d/zz-farm-global.conf \
 && php-fpm -t
COPY --chown=root:root infra/wordpress/mu-plugins/ /opt/wpfarm/mu-plugins/
COPY --chown=root:root infra/docker/php-fpm-healthcheck.sh /usr/local/bin/php-fpm-healthcheck
RUN chmod 0755 /usr/local/bin/php-fpm-healthcheck
# The farm's wp-config.php (shared salts from a secret); the entrypoint copies /usr/src/wordpress
# into the document root and keeps an existing wp-config.php instead of generating one.
COPY --chown=root:root infra/docker/wp-config.php /usr/src/wordpress/wp-config.php
# php-fpm master runs as root to switch pools to www-data (the image's design); workers are www-data.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 CMD ["php-fpm-healthcheck"]
STOPSIGNAL SIGQUIT

FROM ${NGINX_IMAGE} AS nginx
# Static files of core (wp-admin, wp-includes) from the same WordPress release as php.
COPY --from=php /usr/src/wordpress /var/www/html
COPY --from=php /opt/wpfarm/mu-plugins /opt/wpfarm/mu-plugins
COPY --chown=root:root infra/docker/wordpress-nginx.conf /etc/nginx/conf.d/default.conf
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 CMD ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1/__nginx/health"]
STOPSIGNAL SIGQUIT
