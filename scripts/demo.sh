#!/usr/bin/env bash
# `npm run demo`: everything on one machine — installs what is missing, builds dist/ if needed, starts a private
# InfluxDB (unless one answers at PANTAU_INFLUX_URL / 127.0.0.1:8086), the Pantau platform and the simulated Kaltim
# fleet, then prints where to look. Data stays in PANTAU_DEMO_DIR (.pantau-demo/) for the next run.
#
# Ctrl-C stops the fleet, then the platform, then InfluxDB, each with one SIGTERM and waiting for it to finish.
# Each runs in a session of its own (setsid), so the terminal's SIGINT reaches only this script, which then stops
# them in that order; a repeated Ctrl-C while it does so is ignored.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/influxd-conf.sh
ROOT=$(pwd)
DEMO=$(mkdir -p "${PANTAU_DEMO_DIR:-$ROOT/.pantau-demo}" && cd "${PANTAU_DEMO_DIR:-$ROOT/.pantau-demo}" && pwd)
mkdir -p "$DEMO/data" "$DEMO/influxdb"

bash scripts/ensure-deps.sh
node scripts/build-state.mjs

HTTP_PORT=${PANTAU_HTTP_PORT:-8080}
MQTT_PORT=${PANTAU_MQTT_PORT:-1883}
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$HTTP_PORT" "$MQTT_PORT"; do
  if port_busy "$p"; then
    echo "pantau demo: port $p is already in use; stop what uses it or set PANTAU_HTTP_PORT / PANTAU_MQTT_PORT" >&2
    exit 1
  fi
done

names=() pids=()
start() { # start NAME CMD…: CMD in a session of its own, in the background
  local name=$1; shift
  setsid "$@" &
  names+=("$name") pids+=($!)
}
stopping=""
cleanup() {
  [ -n "$stopping" ] && return
  stopping=1
  trap '' INT TERM HUP
  [ ${#pids[@]} -gt 0 ] && printf '\npantau demo: stopping…\n'
  # newest first: the fleet says goodbye while the broker is still up, the platform flushes while InfluxDB is
  local i code
  for ((i=${#pids[@]}-1; i>=0; i--)); do
    kill -TERM "${pids[i]}" 2>/dev/null || true
    code=0
    wait "${pids[i]}" 2>/dev/null || code=$?
    echo "pantau demo: ${names[i]} stopped (exit $code)"
  done
}
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM HUP
trap cleanup EXIT

INFLUX_URL=${PANTAU_INFLUX_URL:-http://127.0.0.1:8086}
if curl -fsS -o /dev/null "$INFLUX_URL/ping" 2>/dev/null; then
  echo "pantau demo: using the InfluxDB at $INFLUX_URL"
else
  INFLUXD=$(command -v influxd || echo /usr/bin/influxd)
  INFLUX_PORT=$(echo "$INFLUX_URL" | sed -E 's#.*:([0-9]+)/?$#\1#')
  # InfluxDB's RPC (backup) port, next to its HTTP port as in its defaults (8086 → 8088)
  influxd_conf "$DEMO/influxdb" "$INFLUX_PORT" "$((INFLUX_PORT + 2))" > "$DEMO/influxdb/influxdb.conf"
  echo "pantau demo: starting a private InfluxDB on $INFLUX_URL (data in $DEMO/influxdb)"
  start InfluxDB "$INFLUXD" -config "$DEMO/influxdb/influxdb.conf" > "$DEMO/influxdb.log" 2>&1
  for _ in $(seq 1 100); do curl -fsS -o /dev/null "$INFLUX_URL/ping" 2>/dev/null && break; sleep 0.2; done
  curl -fsS -o /dev/null "$INFLUX_URL/ping" || { echo "pantau demo: InfluxDB did not start; see $DEMO/influxdb.log" >&2; exit 1; }
fi

export PANTAU_INFLUX_URL="$INFLUX_URL"
export PANTAU_DATA_DIR="${PANTAU_DATA_DIR:-$DEMO/data}"
export PANTAU_HTTP_PORT="$HTTP_PORT" PANTAU_MQTT_PORT="$MQTT_PORT"
echo "pantau demo: starting the platform (log: $DEMO/pantau.log)"
# the compiled platform, as `npm start` and the image run it
start platform node --enable-source-maps --max-semi-space-size=64 dist/platform/main.js > "$DEMO/pantau.log" 2>&1
API="http://127.0.0.1:$HTTP_PORT"
for _ in $(seq 1 150); do curl -fsS -o /dev/null "$API/readyz" 2>/dev/null && break; sleep 0.2; done
curl -fsS -o /dev/null "$API/readyz" || { echo "pantau demo: the platform did not become ready; see $DEMO/pantau.log:" >&2; tail -20 "$DEMO/pantau.log" >&2; exit 1; }

if [ -z "${PANTAU_ADMIN_KEY:-}" ]; then PANTAU_ADMIN_KEY=$(cat "$PANTAU_DATA_DIR/admin.key"); fi
export PANTAU_ADMIN_KEY PANTAU_API_URL="$API" PANTAU_MQTT_URL="mqtt://127.0.0.1:$MQTT_PORT"
export PANTAU_SIM_STATE_DIR="${PANTAU_SIM_STATE_DIR:-$DEMO/simulator}"

# a one-time operator key for the console (the admin key signs in too, but an operator key is what a control room uses)
CONSOLE_KEY=$(curl -fsS -X POST "$API/api/v1/keys" -H "Authorization: Bearer $PANTAU_ADMIN_KEY" -H 'content-type: application/json' \
  -d '{"name":"demo console","role":"operator"}' | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).key))')

cat <<BANNER

  Pantau is running.
    Console     $API/        (sign in with: $CONSOLE_KEY — an operator key, shown once)
    API         $API        (docs: $API/docs)
    MQTT        mqtt://127.0.0.1:$MQTT_PORT
    Admin key   $PANTAU_ADMIN_KEY
                (stored in ${PANTAU_DATA_DIR}/admin.key)

  Try:
    curl -s -H "Authorization: Bearer $PANTAU_ADMIN_KEY" $API/api/v1/devices?kind=flood
    curl -s -H "Authorization: Bearer $PANTAU_ADMIN_KEY" $API/api/v1/devices/smd-flood-01/latest
    curl -s -H "Authorization: Bearer $PANTAU_ADMIN_KEY" "$API/api/v1/devices/smd-air-01/readings?from=-15m"

  Starting the simulated Kaltim fleet (Ctrl-C stops everything)…

BANNER

# shellcheck disable=SC2086 # the arguments are meant to split
start fleet node --enable-source-maps dist/devices/simulate.js ${PANTAU_DEMO_SIMULATE_ARGS:---speed 60}
wait "${pids[-1]}"
