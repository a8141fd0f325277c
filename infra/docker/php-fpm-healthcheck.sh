#!/bin/sh
# php-fpm's ping over FastCGI, from the `farm-health` pool (127.0.0.1:9001, one worker, see
# wordpress.Dockerfile): "pong" or fail. Never through the `www` pool on :9000, whose queue is
# as long as the site is busy.
set -eu
SCRIPT_NAME=/fpm-ping SCRIPT_FILENAME=/fpm-ping REQUEST_METHOD=GET \
  cgi-fcgi -bind -connect 127.0.0.1:9001 | grep -q pong
