#!/usr/bin/env bash
# `npm test`: installs what is missing, then type-checks and runs the whole suite. The suite starts its own
# InfluxDB (and Mosquitto where it needs one) on free ports; nothing needs to be running beforehand.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
npx tsc --noEmit -p tsconfig.json
npx tsc --noEmit -p console/tsconfig.json
exec npx vitest run "$@"
