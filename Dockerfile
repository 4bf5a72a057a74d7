# syntax=docker/dockerfile:1
#
# engage-bridge gateway image.
#
#   docker build -t engage-bridge:local --build-arg VERSION=$(node -p "require('./apps/gateway/package.json').version") .
#   docker run --rm -p 8080:8080 -v "$PWD/engage-bridge.yaml:/etc/engage-bridge/engage-bridge.yaml:ro" \
#     -v engage-bridge-data:/var/lib/engage-bridge engage-bridge:local
#
# Two stages: the build stage installs the whole workspace (dev dependencies, compilers) and runs
# `pnpm build:deploy`, which writes a self-contained dist/gateway/ (compiled JS + production
# dependencies only). The runtime stage holds nothing but Node and that folder.

# One Node image for both stages: anything compiled or resolved in the build stage runs on the same
# Node major and libc in the runtime stage. Pin it by digest (node:24-slim@sha256:…) for reproducible
# production builds. The major follows .nvmrc.
ARG NODE_IMAGE=node:24-slim

# ---------------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS build

# The pnpm version of package.json's "packageManager" field (the lockfile pins it too). Installed with
# npm rather than corepack: no corepack signature-key updates needed, and Node 25+ no longer ships it.
ARG PNPM_VERSION=12.4.2
# The package store lives in a BuildKit cache mount (below), shared by every pnpm step and across
# builds. CI=true: no prompts, frozen lockfile by default.
ENV PNPM_HOME=/pnpm \
    PNPM_CONFIG_STORE_DIR=/pnpm/store \
    PATH=/pnpm:$PATH \
    CI=true \
    TURBO_TELEMETRY_DISABLED=1
RUN npm install --global --no-fund --no-audit "pnpm@${PNPM_VERSION}"

WORKDIR /repo

# Download every package of the lockfile first (`pnpm fetch` needs no package.json), in a layer that
# changes only with the lockfile. The pnpmfile is needed because the lockfile records its checksum.
COPY pnpm-lock.yaml pnpm-workspace.yaml .pnpmfile.cjs ./
RUN --mount=type=cache,id=pnpm-store,target=/pnpm/store \
    pnpm fetch

# Then the workspace. .dockerignore keeps node_modules, dist, .git, local data and secrets out.
COPY . .

# --frozen-lockfile: the image gets exactly the locked versions (fails if package.json and the
# lockfile disagree); --offline: everything comes from the store filled above. The root `prepare`
# script runs `turbo run build` here, so the workspace is built when the install ends.
RUN --mount=type=cache,id=pnpm-store,target=/pnpm/store \
    pnpm install --frozen-lockfile --offline

# dist/gateway/: bin/engage-bridge.js, dist/ (compiled JS), package.json, node_modules/ (production
# dependencies only) and engage-bridge.schema.json. Runnable with plain Node, no pnpm. It runs
# `pnpm deploy --prod`, which copies the production dependencies from the same package store.
RUN --mount=type=cache,id=pnpm-store,target=/pnpm/store \
    pnpm build:deploy

# ---------------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime

# Set by CI from the gateway's package.json (see the top of this file); only used for the label.
ARG VERSION=dev

LABEL org.opencontainers.image.title="engage-bridge" \
      org.opencontainers.image.description="Gateway for Voyado Engage webhooks (via Svix): verifies, stores durably and delivers them to HubSpot, SendGrid, Google Sheets and more" \
      org.opencontainers.image.source="https://github.com/engage-bridge/engage-bridge" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}"

# Production mode: `start` refuses to run without a config file (no sandbox mode, no generated
# secrets, no fakes) and libraries take their production paths.
ENV NODE_ENV=production

WORKDIR /app

# The data directory for a SQLite store (sqlite:/var/lib/engage-bridge/engage-bridge.db). Owned by the
# runtime user and 0700, as the store wants its directory; its files are created 0600. A named volume
# mounted here starts with this owner and mode. With PostgreSQL nothing is written here.
# /etc/engage-bridge is where the config file is mounted (read-only).
RUN mkdir -p /var/lib/engage-bridge /etc/engage-bridge && \
    chown 1000:1000 /var/lib/engage-bridge && \
    chmod 0700 /var/lib/engage-bridge

# Only the deploy folder. Owned by root and not writable by the runtime user: the application cannot
# modify its own code, and the container runs fine with a read-only root filesystem.
COPY --from=build --chown=root:root /repo/dist/gateway /app

# Non-root, as a numeric uid:gid (the image's `node` user) so that Kubernetes' runAsNonRoot can verify
# it without looking up a name.
USER 1000:1000

# Without a volume, a SQLite store would live in the container's writable layer and vanish with it.
VOLUME ["/var/lib/engage-bridge"]

# server.port's default; the env variable PORT overrides it (and then the health check follows).
EXPOSE 8080

# The slim image has no curl or wget: Node's own fetch checks /healthz (200 while the process runs).
# /readyz (store can write) is for load balancers and orchestrators, not for restarting a container.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

# On SIGTERM the gateway stops accepting, finishes in-flight requests and batches, and exits within
# 10 s. Give it 15 s before SIGKILL (docker stop -t 15, compose stop_grace_period: 15s).
STOPSIGNAL SIGTERM

# Node itself is PID 1 (exec form, no shell, no npm/pnpm in between): it receives SIGTERM directly
# and the CLI handles it. It starts no child processes, so there are no zombies to reap (no tini).
# --max-semi-space-size=8: a smaller young generation, ~40 MB less RSS under webhook load
# (SERVER_NODE_FLAGS in apps/gateway/src/heap-tuning.ts; measured in docs/benchmarks.md).
ENTRYPOINT ["node", "--max-semi-space-size=8", "/app/bin/engage-bridge.js"]

# The config file is mounted here; it may use ${ENV_VAR} and ${file:/path} for secrets.
# Override the arguments for a split deployment, e.g. `start --role ingest --config …`.
CMD ["start", "--config", "/etc/engage-bridge/engage-bridge.yaml"]
