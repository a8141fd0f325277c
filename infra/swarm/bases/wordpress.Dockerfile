# Local stand-in for wordpress:*-fpm (built by infra/swarm/bases.ts): Debian's PHP 8.2 FPM with the
# extensions WordPress uses, and WordPress from Debian's package, laid out like the official image:
#   /usr/src/wordpress      a plain tree (Debian's symlinks into /usr/share/php, /usr/share/javascript
#                           and /etc resolved to files), wp-content/{plugins,themes} included
#   /usr/local/etc/php-fpm.d/*.conf   read by php-fpm (docker.conf, www.conf, zz-docker.conf as in
#                           the official image: pool www on :9000 as www-data, clear_env = no,
#                           logs to stderr, master in the foreground)
#   /usr/local/etc/php/conf.d/*.ini   scanned after Debian's own
#   php-fpm on PATH, docker-entrypoint.sh (copies /usr/src/wordpress into /var/www/html when it has
#   no index.php, keeping an existing wp-config.php), WORKDIR /var/www/html, SIGQUIT, port 9000.
# Build context: infra/swarm/bases/ (apt-install.sh, wordpress-entrypoint.sh).
ARG DEBIAN_IMAGE=wpfarm-base/debian:bookworm

# Debian's wordpress package depends on a web server and mysql client: its files are unpacked
# here instead (with the few packages its symlinks point into) and copied out as plain files.
FROM ${DEBIAN_IMAGE} AS source
WORKDIR /tmp/debs
RUN apt-get update \
 && apt-get download wordpress wordpress-theme-twentytwentythree php-getid3 libjs-cropper libjs-underscore \
 && apt-get install -y --no-install-recommends ca-certificates \
 && for deb in ./*.deb; do dpkg-deb -x "$deb" /; done \
 && cp -rL /usr/share/wordpress /usr/src/wordpress \
 && rm -f /usr/src/wordpress/wp-config.php /usr/src/wordpress/.htaccess \
 && mkdir -p /usr/src/wordpress/wp-content/plugins /usr/src/wordpress/wp-content/themes /usr/src/wordpress/wp-content/uploads \
 && test -f /usr/src/wordpress/wp-includes/version.php \
 && test -d /usr/src/wordpress/wp-content/themes/twentytwentythree \
 && test -z "$(find /usr/src/wordpress -type l)"

FROM ${DEBIAN_IMAGE}
ENV PHP_INI_DIR=/usr/local/etc/php \
    PHP_INI_SCAN_DIR=:/usr/local/etc/php/conf.d
COPY apt-install.sh /usr/local/sbin/apt-install
RUN apt-install ca-certificates \
      php8.2-fpm php8.2-mysql php8.2-xml php8.2-curl php8.2-gd php8.2-mbstring php8.2-zip \
      php8.2-intl php8.2-bcmath \
 && ln -s /usr/sbin/php-fpm8.2 /usr/local/sbin/php-fpm \
 && mkdir -p /usr/local/etc/php/conf.d /usr/local/etc/php-fpm.d \
 && sed -i -e 's|^include=.*|include=/usr/local/etc/php-fpm.d/*.conf|' -e 's|^pid *=|;&|' /etc/php/8.2/fpm/php-fpm.conf \
 && mv /etc/php/8.2/fpm/pool.d/www.conf /usr/local/etc/php-fpm.d/www.conf \
 && printf '%s\n' '[global]' 'error_log = /proc/self/fd/2' 'log_limit = 8192' '' '[www]' \
      'access.log = /proc/self/fd/2' 'clear_env = no' 'catch_workers_output = yes' \
      'decorate_workers_output = no' > /usr/local/etc/php-fpm.d/docker.conf \
 && printf '%s\n' '[global]' 'daemonize = no' '' '[www]' 'listen = 9000' > /usr/local/etc/php-fpm.d/zz-docker.conf \
 && mkdir -p /var/www/html && chown www-data:www-data /var/www/html && chmod 1777 /var/www/html \
 && php-fpm -t
COPY --from=source --chown=www-data:www-data /usr/src/wordpress /usr/src/wordpress
COPY wordpress-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN chmod 0755 /usr/local/bin/docker-entrypoint.sh
WORKDIR /var/www/html
VOLUME /var/www/html
STOPSIGNAL SIGQUIT
EXPOSE 9000
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["php-fpm", "-F"]
