#!/usr/bin/env bash
# `npm run image-size`: the size of the image the Dockerfile builds, computed without a Docker engine. It
# assembles what the Dockerfile's runtime stage copies onto its base — package.json, package-lock.json, the
# production node_modules (`npm ci --omit=dev`, with the native module compiled as the build stage compiles it and
# the same build leftovers removed) and dist/ — then measures it on disk and as gzip'd layers (what a registry
# stores and a host downloads), and adds the base image's documented size.
set -euo pipefail
cd "$(dirname "$0")/.."

# node:24-slim, linux/amd64, as documented by the official image's repo-info (compressed transfer size).
BASE_IMAGE="node:24-slim"
BASE_COMPRESSED_BYTES=80451137

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
node scripts/build-state.mjs
cp package.json package-lock.json "$STAGE/"
(cd "$STAGE" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
# better-sqlite3's binary as the build stage compiles it (this checkout compiled it the same way, from source)
mkdir -p "$STAGE/node_modules/better-sqlite3/build/Release"
cp node_modules/better-sqlite3/build/Release/better_sqlite3.node "$STAGE/node_modules/better-sqlite3/build/Release/"
bash scripts/prune-native-build.sh "$STAGE/node_modules"
cp -r dist "$STAGE/dist"

mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1000000 }'; }
disk=$(du -sb "$STAGE" | cut -f1)
modules=$(du -sb "$STAGE/node_modules" | cut -f1)
distb=$(du -sb "$STAGE/dist" | cut -f1)
gz=$(tar -C "$STAGE" -cf - . | gzip -6 | wc -c)
total=$((BASE_COMPRESSED_BYTES + gz))
packages=$(cd "$STAGE" && npm ls --omit=dev --all --parseable 2>/dev/null | tail -n +2 | sort -u | wc -l)

echo "Pantau image (runtime stage on $BASE_IMAGE):"
echo "  production node_modules  $(mib "$modules") on disk ($packages packages)"
echo "  dist/                    $(mib "$distb") on disk"
echo "  Pantau's layers          $(mib "$disk") on disk, $(mb "$gz") compressed"
echo "  base image $BASE_IMAGE   $(mb "$BASE_COMPRESSED_BYTES") compressed (documented, linux/amd64)"
echo "  image                    $(mb "$total") compressed download"
echo "  largest packages:"
(cd "$STAGE/node_modules" && du -sb -- * @*/* 2>/dev/null | grep -v "^[0-9]*\s@[^/]*$" | sort -rn | head -5 | awk '{ printf "    %-30s %.1f MiB\n", $2, $1 / 1048576 }')
