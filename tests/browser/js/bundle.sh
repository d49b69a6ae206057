#!/usr/bin/env bash
# Bundles the official @azure/communication-common (the versions pinned in
# package-lock.json) into target/js/communication-common.js for the browser
# test: npm ci, then esbuild. Needs node and npm (and the npm registry).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(realpath "$here/../../../target")/js
mkdir -p "$work"
cp "$here/package.json" "$here/package-lock.json" "$here/entry.mjs" "$work/"
(cd "$work" && npm ci --silent --no-audit --no-fund)
"$work/node_modules/.bin/esbuild" "$work/entry.mjs" --bundle --format=iife --platform=browser \
  --log-level=warning --outfile="$work/communication-common.js"
echo "bundled $work/communication-common.js"
