#!/bin/sh
# `apt-install PACKAGE...` in the local base images: Debian packages without recommends, docs or
# man pages (kept out for later installs too, as in debian:*-slim), no daemon started by a
# maintainer script, and nothing left in apt's lists or caches (the official Debian images' clean-up).
set -eu
cat > /etc/dpkg/dpkg.cfg.d/wpfarm-slim <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
CFG
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod 0755 /usr/sbin/policy-rc.d
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /usr/sbin/policy-rc.d
