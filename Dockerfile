# syntax=docker/dockerfile:1
# The Portcullis broker: one image for every role. ROLES picks what a container runs
# (api, proxy, worker or any combination; all three by default). See docker-compose.yml.

# --- dependencies: compiled here, where the toolchain is -------------------------------------------
FROM node:20-bookworm-slim AS deps
# node-gyp needs python3, make and g++: ssh2's native crypto binding and cpu-features are built at
# install time. Without the binding ssh2 silently falls back to JavaScript ciphers (a keystroke
# round trip of ~88 ms instead of ~0.3 ms), so the build fails rather than ship that.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
# the project's lockfile and allowScripts block are npm 11's; the base image ships npm 10
RUN npm install -g npm@11 --no-audit --no-fund
WORKDIR /app
COPY package.json package-lock.json ./
# the reviewed patch to ssh2 (pooled padding, packet memory reuse), applied by patch-package from the
# postinstall script: patch-package is a devDependency, so install everything, then prune to
# production dependencies (tsx, which runs the TypeScript sources, is one of them)
COPY .ci/patches ./.ci/patches
RUN npm ci --no-audit --no-fund \
 && node -e "if (require('ssh2/lib/protocol/crypto').bindingAvailable !== true) { console.error('ssh2 native crypto binding was not built'); process.exit(1); }" \
 && node -e "if (!require('ssh2/lib/protocol/crypto').padding) { console.error('the ssh2 patch in .ci/patches was not applied'); process.exit(1); }" \
 && npm prune --omit=dev --no-audit --no-fund \
 && npm cache clean --force

# --- runtime --------------------------------------------------------------------------------------
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    DATA_DIR=/data
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
# package files, tsconfig.json, server/, proxy/, migrations/ and web/: .dockerignore keeps out
# everything else (tests, local data and keys, node_modules, .git). Owned by root, so the
# process cannot change its own code.
COPY . .
# the web console, built once into web/dist (vite is a runtime dependency for this)
RUN node web/build-if-stale.mjs --force
# DATA_DIR holds keys (0600) and recordings; a named volume mounted here starts out owned by `node`
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME /data
# 8080: HTTP API and web (PORT), 2222: SSH proxy (SSH_PORT)
EXPOSE 8080 2222
# --max-semi-space-size=16: a young generation big enough that the relay's short-lived buffers die young
# (README "Later the same evening": full GCs per 256 MiB relayed 17–20 → 0, text throughput +35 %, no RSS cost)
# --initial-old-space-size=128: an old generation that does not start collecting at ~40 MB, where a process
# that had served a few sessions ran a full GC every ~80 ms of a transfer (README "NUL bytes kept exactly")
CMD ["node", "--max-semi-space-size=16", "--initial-old-space-size=128", "--import", "tsx", "server/main.ts"]
