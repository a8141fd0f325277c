# wpfarm-base/node:24 plus the CA bundle of the machine's TLS proxy, for `npm install` in the deps
# stage of node-service.Dockerfile (NODE_BUILD_IMAGE) only: the runtime stage stays on
# NODE_IMAGE, so the CA never reaches an image that runs. Built by infra/swarm/bases.ts from a
# throwaway context holding `build-ca.crt` (the host's bundle, never committed).
ARG NODE_IMAGE=wpfarm-base/node:24
FROM ${NODE_IMAGE}
COPY build-ca.crt /usr/local/share/wpfarm-build-ca.crt
ENV NODE_EXTRA_CA_CERTS=/usr/local/share/wpfarm-build-ca.crt
