#!/usr/bin/env bash
# Removes what better-sqlite3 needs only while compiling (SQLite's sources, object files, the test extension)
# from a node_modules directory: the Dockerfile's build stage and `npm run image-size` both call it.
set -euo pipefail
bs="${1:?usage: prune-native-build.sh NODE_MODULES_DIR}/better-sqlite3"
[ -d "$bs" ] || exit 0
rm -rf "$bs/deps" "$bs/src" "$bs/build/deps" "$bs/build/Release/obj" "$bs/build/Release/obj.target" \
  "$bs/build/Release/.deps" "$bs/build/Release/test_extension.node" "$bs/build/Makefile" "$bs/build/"*.mk \
  "$bs/build/config.gypi" "$bs/build/binding.Makefile"
