#!/bin/sh
# php-fpm's own ping page over FastCGI (pool ping.path = /fpm-ping): "pong" or fail.
set -eu
SCRIPT_NAME=/fpm-ping SCRIPT_FILENAME=/fpm-ping REQUEST_METHOD=GET \
  cgi-fcgi -bind -connect 127.0.0.1:9000 | grep -q pong
