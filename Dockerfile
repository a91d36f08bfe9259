# Pantau: one image for the platform (default command) and the simulator (docker-compose.yml, profile "simulator").
# Node 24, the current LTS. `npm run image-size` computes this image's size without a Docker engine.

# --- build: compile TypeScript and the native better-sqlite3 module ---
FROM node:24-slim AS build
# better-sqlite3 compiles from source when no prebuilt binary fits.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# dist/ (npm run build), then only the production dependencies, without the native module's build leftovers
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && bash scripts/prune-native-build.sh node_modules

# --- runtime: production dependencies and dist/ only, as an unprivileged user ---
FROM node:24-slim AS runtime
ENV NODE_ENV=production \
    PANTAU_DATA_DIR=/data
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# the operations console's bundle (served at /)
COPY --from=build /app/console/dist ./console/dist
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 1883 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=15s --retries=6 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PANTAU_HTTP_PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "--enable-source-maps", "--max-semi-space-size=64", "dist/platform/main.js"]
