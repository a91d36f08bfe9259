#!/usr/bin/env bash
# Installs what Pantau's demo and test suite need and is missing: from the system's packages InfluxDB 1.x,
# Mosquitto, PostgreSQL, Chromium (headless, for the console's browser tests) and docker-compose (the compose
# file's check), plus the compilers better-sqlite3 builds with; then the npm dependencies. Used by `npm run demo`,
# `npm test` and CI; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

have() { command -v "$1" >/dev/null 2>&1; }
need_pkgs=()
have influxd || [ -x /usr/bin/influxd ] || need_pkgs+=(influxdb)
have mosquitto || [ -x /usr/sbin/mosquitto ] || need_pkgs+=(mosquitto)
have pg_ctl || compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null || need_pkgs+=(postgresql)
have chromium || need_pkgs+=(chromium)
have docker-compose || need_pkgs+=(docker-compose)
have curl || need_pkgs+=(curl)
have xmllint || need_pkgs+=(libxml2-utils)
# better-sqlite3 compiles from source (no prebuilt binary is downloaded here)
{ have python3 && have make && have g++; } || need_pkgs+=(python3 make g++)

if [ ${#need_pkgs[@]} -gt 0 ]; then
  if ! have apt-get; then
    echo "pantau: missing ${need_pkgs[*]}; install them with your package manager (InfluxDB 1.x provides influxd)" >&2
    exit 1
  fi
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if have sudo; then SUDO="sudo"; else
      echo "pantau: missing ${need_pkgs[*]}; run as root: apt-get update && apt-get install -y ${need_pkgs[*]}" >&2
      exit 1
    fi
  fi
  echo "pantau: installing ${need_pkgs[*]} from the system's packages…"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

# npm dependencies: install when missing or when package-lock.json changed since the last install
if [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "pantau: installing npm dependencies (npm ci; better-sqlite3 may compile, ~2 min)…"
  npm ci --no-audit --no-fund --loglevel=error
fi
