# Gilfoyle: one image for the API, the bridge and the worker (pick with the command).
FROM node:24-bookworm-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force
COPY bin ./bin
COPY src ./src
COPY admin/dist ./admin/dist

# The commit built (docker build --build-arg GILFOYLE_COMMIT=$(git rev-parse HEAD)), shown by /healthz.
ARG GILFOYLE_COMMIT=unknown
ENV NODE_ENV=production \
    GILFOYLE_COMMIT=$GILFOYLE_COMMIT \
    GILFOYLE_SERVER_HOST=0.0.0.0 \
    GILFOYLE_STORAGE_FS_ROOT=/var/lib/gilfoyle
RUN mkdir -p /var/lib/gilfoyle && chown node:node /var/lib/gilfoyle
VOLUME /var/lib/gilfoyle
USER node
EXPOSE 8080
CMD ["node", "bin/gilfoyle.js", "all"]
