#!/usr/bin/env bash
# `npm test`: installs what is missing, then type-checks and runs the whole suite. The suite starts its own
# InfluxDB (and Mosquitto where it needs one) on free ports; nothing needs to be running beforehand.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
npx tsc --noEmit -p tsconfig.json
npx tsc --noEmit -p console/tsconfig.json
# with arguments: vitest as asked; without: the suite, then the latency-sensitive files alone (vitest.config.ts)
if [ "$#" -gt 0 ]; then exec npx vitest run "$@"; fi
rc=0
PANTAU_TEST_SET=rest npx vitest run || rc=$?
PANTAU_TEST_SET=alone npx vitest run || rc=$?
exit "$rc"
