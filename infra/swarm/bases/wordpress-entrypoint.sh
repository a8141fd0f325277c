#!/bin/sh
# The wpfarm-base/wordpress entrypoint, as the official wordpress image's does for php-fpm:
# a document root without WordPress gets a copy of /usr/src/wordpress (owned by www-data when run
# as root); a wp-config.php already there is kept. Then the command runs as PID 1.
set -eu
case "${1:-}" in
  php-fpm*)
    if [ ! -e index.php ] && [ ! -e wp-includes/version.php ]; then
      keep=''
      [ -e wp-config.php ] && keep='--exclude=./wp-config.php'
      if [ "$(id -u)" = 0 ]; then
        owner='--owner=www-data --group=www-data'
        extract=''
      else
        owner=''
        extract='--no-overwrite-dir'
      fi
      echo >&2 "WordPress not found in $(pwd): copying /usr/src/wordpress"
      # shellcheck disable=SC2086 # the option variables are one word or none
      tar --create --file - --directory /usr/src/wordpress $owner $keep . | tar --extract --file - $extract
    fi
    ;;
esac
exec "$@"
