#!/usr/bin/env bash
# Installs what Pantau needs and is missing: InfluxDB 1.x and Mosquitto from the system's packages, and the npm
# dependencies. Used by `npm run demo` and `npm test`; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
command -v influxd >/dev/null 2>&1 || [ -x /usr/bin/influxd ] || need_pkgs+=(influxdb)
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need_pkgs+=(mosquitto)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "pantau: missing ${need_pkgs[*]}; install InfluxDB 1.x (influxd) and Mosquitto with your package manager" >&2
    exit 1
  fi
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
      echo "pantau: missing ${need_pkgs[*]}; run as root: apt-get update && apt-get install -y ${need_pkgs[*]}" >&2
      exit 1
    fi
  fi
  echo "pantau: installing ${need_pkgs[*]} from the system's packages…"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

# npm dependencies: install when missing or when package-lock.json changed since the last install
if [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "pantau: installing npm dependencies (npm ci; better-sqlite3 may compile, ~2 min)…"
  npm ci --no-audit --no-fund --loglevel=error
fi
