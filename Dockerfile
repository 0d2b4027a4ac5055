# Gilfoyle: one image for the API, the bridge and the worker; the command picks the role
# (all | api | bridge | worker | migrate | config). It runs the dist/ build, as `npm start` does.
#   docker build --build-arg GILFOYLE_COMMIT="$(git rev-parse HEAD)" -t gilfoyle .
# The Node version is the one scripts/node.sh installs (test/build/deploy-files.test.ts checks it).
ARG NODE_VERSION=24.22.3

# ---- build: every dependency, tsc → dist/ -------------------------------------
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- production dependencies only ---------------------------------------------
FROM node:${NODE_VERSION}-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force

# ---- runtime --------------------------------------------------------------------
FROM node:${NODE_VERSION}-bookworm-slim
# Debian's ffmpeg, and tini as PID 1 (signals reach node, and ffmpeg's orphans are reaped).
# Versions come with the base image's Debian release: pinned ones vanish at each security update.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg tini \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY --from=build /src/dist ./dist
COPY admin/dist ./admin/dist

# /app is root's and read-only to the process: everything it writes goes under /var/lib/gilfoyle
# (the volume: the filesystem store, tus parts) or /tmp (per-encode work folders). The settings
# are the config keys storage.fs.root, tus.dir and encoding.temp_dir; the host settings let the
# API and the metrics of workers and bridges be reached from outside the container.
ARG GILFOYLE_COMMIT=unknown
ENV NODE_ENV=production \
    GILFOYLE_COMMIT=$GILFOYLE_COMMIT \
    GILFOYLE_SERVER_HOST=0.0.0.0 \
    GILFOYLE_METRICS_HOST=0.0.0.0 \
    GILFOYLE_STORAGE_FS_ROOT=/var/lib/gilfoyle/storage \
    GILFOYLE_TUS_DIR=/var/lib/gilfoyle/tus \
    GILFOYLE_ENCODING_TEMP_DIR=/tmp
RUN mkdir -p /var/lib/gilfoyle/storage /var/lib/gilfoyle/tus \
 && chown -R node:node /var/lib/gilfoyle
VOLUME /var/lib/gilfoyle
# The image's node user, by number: Kubernetes' runAsNonRoot can only check a numeric user.
USER 1000:1000
# 8080: the API (server.port); 9464: /healthz and /metrics of a worker or bridge (metrics.port).
EXPOSE 8080 9464
ENTRYPOINT ["/usr/bin/tini", "--", "node", "dist/cli/main.js"]
CMD ["all"]
