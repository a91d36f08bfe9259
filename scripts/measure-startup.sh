#!/usr/bin/env bash
# Start-up time of the platform, from process start until /readyz answers 200 (InfluxDB reachable, database
# created, registry open, broker and API listening), for the compiled dist/ (what `npm start` and the image run)
# and, for comparison, the TypeScript sources through tsx's loader (how `npm start` ran before dist/).
# Starts a private InfluxDB; every run uses a fresh data directory. Usage: scripts/measure-startup.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/influxd-conf.sh
RUNS=${1:-5}
node scripts/build-state.mjs
WORK=$(mktemp -d)
free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
INFLUX_PORT=$(free_port)
influxd_conf "$WORK/influx" "$INFLUX_PORT" "$(free_port)" > "$WORK/influxdb.conf"
influxd -config "$WORK/influxdb.conf" > "$WORK/influxd.log" 2>&1 &
INFLUXD=$!
trap 'kill $INFLUXD 2>/dev/null; wait $INFLUXD 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do curl -fsS -o /dev/null "http://127.0.0.1:$INFLUX_PORT/ping" 2>/dev/null && break; sleep 0.1; done

measure() { # measure LABEL CMD…: prints the milliseconds until /readyz is 200
  local http data pid t0 t1
  http=$(free_port)
  data=$(mktemp -d "$WORK/data.XXXX")
  t0=$(date +%s%N)
  PANTAU_HTTP_PORT=$http PANTAU_MQTT_PORT=0 PANTAU_MQTT_TLS_PORT=0 PANTAU_HOST=127.0.0.1 PANTAU_DATA_DIR=$data \
    PANTAU_INFLUX_URL="http://127.0.0.1:$INFLUX_PORT" PANTAU_INFLUX_DB=startup PANTAU_LOG_LEVEL=warn \
    PANTAU_ADMIN_KEY=startup-measure-admin-key "$@" > "$data.log" 2>&1 &
  pid=$!
  until curl -fsS -o /dev/null "http://127.0.0.1:$http/readyz" 2>/dev/null; do
    kill -0 $pid 2>/dev/null || { echo "failed: $(tail -5 "$data.log")" >&2; return 1; }
    sleep 0.01
  done
  t1=$(date +%s%N)
  kill -TERM $pid; wait $pid 2>/dev/null || true
  echo $(( (t1 - t0) / 1000000 ))
}

report() { # report LABEL CMD…
  local label=$1; shift
  local times=()
  for _ in $(seq 1 "$RUNS"); do times+=("$(measure "$@")"); done
  printf '%s\n' "${times[@]}" | sort -n | awk -v label="$label" -v n="$RUNS" '
    { t[NR] = $1 } END { printf "%-34s median %5d ms   (min %d, max %d, %d runs)\n", label, t[int((n + 1) / 2)], t[1], t[n], n }'
}

echo "start-up until /readyz is 200, node $(node --version):"
report "dist/ (npm start, the image)" node --enable-source-maps dist/platform/main.js
report "TypeScript through tsx (before)" node --import tsx platform/main.ts
