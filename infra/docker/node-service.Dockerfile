# One image per Node workspace, from one file (build context: the repository root, trimmed by
# .dockerignore):
#   docker build -f infra/docker/node-service.Dockerfile --build-arg WORKSPACE=origin-router \
#     --build-arg HEALTH_URL=http://127.0.0.1:8080/ping -t $IMAGE_REGISTRY/origin-router:$FARM_VERSION .
# Node 24 runs the TypeScript sources directly (type stripping): there is no build step and the
# image ships src/ as written (plus Node's compile cache of them, warmed below). The runtime stage
# has no npm, no compiler, no dev dependencies.
# Any engine builds it, the legacy builder as well as BuildKit: no syntax line, no RUN --mount, no
# COPY --chmod. The base images are ARGs defaulting to the official image; the local Swarm
# profile passes Debian-built ones (infra/swarm/bases.ts).
ARG NODE_IMAGE=node:24-bookworm-slim
# The deps stage's base alone (npm runs there, nothing of it ships but node_modules): a build-only
# image may carry what npm needs to reach the registry (the local profile's has its TLS proxy's
# CA), while the runtime stage stays on NODE_IMAGE.
ARG NODE_BUILD_IMAGE=${NODE_IMAGE}

FROM ${NODE_BUILD_IMAGE} AS deps
ARG WORKSPACE
WORKDIR /app
# Every workspace's package.json: npm resolves the whole workspace graph from the root manifest.
COPY package.json package-lock.json ./
COPY common/package.json common/
COPY infra/package.json infra/
COPY edge-worker/package.json edge-worker/
COPY origin-router/package.json origin-router/
COPY cache-purger/package.json cache-purger/
COPY proxysql-health/package.json proxysql-health/
COPY telemetry/package.json telemetry/
COPY bench/package.json bench/
# Not `npm ci`: npm 11 leaves other platforms' optional packages (@biomejs/cli-*) out of this lock
# and `npm ci` then refuses it as out of sync, even with --omit=dev. `npm install` installs the
# versions pinned in the lock all the same; --ignore-scripts because no runtime dependency needs
# one. Only the service's workspace and telemetry (loaded with --import) are installed. npm's
# cache is dropped in the same step (no cache mount: the legacy builder has none).
RUN npm install --omit=dev --ignore-scripts --no-audit --no-fund \
      --workspace "${WORKSPACE}" --workspace telemetry \
 && rm -rf /root/.npm

FROM ${NODE_IMAGE} AS runtime
ARG WORKSPACE
ARG HEALTH_URL
ENV NODE_ENV=production \
    WORKSPACE=${WORKSPACE} \
    HEALTHCHECK_URL=${HEALTH_URL}
WORKDIR /app
# npm is not needed at run time; removing it keeps it from ever becoming PID 1.
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack
COPY --from=deps --chown=root:root /app/node_modules ./node_modules
COPY --chown=root:root package.json ./
COPY --chown=root:root common/package.json common/
COPY --chown=root:root common/src common/src
COPY --chown=root:root telemetry/package.json telemetry/
COPY --chown=root:root telemetry/src telemetry/src
COPY --chown=root:root ${WORKSPACE}/package.json ${WORKSPACE}/
COPY --chown=root:root ${WORKSPACE}/src ${WORKSPACE}/src
COPY --chown=root:root infra/docker/healthcheck.cjs infra/docker/healthcheck.cjs
# Node's compile cache (type-stripped sources and V8 code), warmed at build time: the service then
# starts without loading the TypeScript stripper (~25 MB of resident memory for the life of the
# process, measured by `npm run bench -- origin-router`) and starts faster. Warmed by starting the
# service with `--warm-up` (common/src/process/warm-up.ts): it loads every module and exits 0
# before reading any config or opening a port.
ENV NODE_COMPILE_CACHE=/app/.node-compile-cache
RUN cd /app/${WORKSPACE} \
    && env -i PATH="$PATH" NODE_COMPILE_CACHE="$NODE_COMPILE_CACHE" \
         OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4317 \
         node --import @wpfarm/telemetry/register src/server.ts --warm-up \
    && test -n "$(ls -A "$NODE_COMPILE_CACHE")"
# The node image's unprivileged user (uid 1000); code is owned by root and read-only to it.
USER node
# Exec form, node as PID 1: SIGTERM reaches the service's own handler (graceful drain). The
# secrets' env file is rendered by Swarm at task start (infra/stacks/env/*.env.tmpl).
ENTRYPOINT ["node", "--env-file-if-exists=/run/secrets/service.env", "--import", "@wpfarm/telemetry/register", "--enable-source-maps"]
CMD ["src/server.ts"]
WORKDIR /app/${WORKSPACE}
# Plain CommonJS over node:net, no TypeScript: a probe costs a bare Node start (healthcheck.cjs).
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 CMD ["node", "/app/infra/docker/healthcheck.cjs"]
