#!/usr/bin/env bash
# Runs the official Python and JS identity SDKs, unchanged, against a fresh
# `acs-identity emulator`. Installs them from PyPI and npm into target/interop.
# Usage: tests/interop/run.sh path/to/acs-identity
set -euo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
work=$(realpath "$here/../../target")/interop
mkdir -p "$work"

if [ ! -x "$work/venv/bin/python" ]; then
  python3 -m venv "$work/venv"
fi
"$work/venv/bin/pip" install --quiet --disable-pip-version-check 'azure-communication-identity==1.5.0' 'aiohttp>=3.9,<4'
if [ ! -d "$work/node/node_modules/@azure/communication-identity" ]; then
  mkdir -p "$work/node"
  (cd "$work/node" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund '@azure/communication-identity@1.3')
fi
cp "$here/js_sdk.mjs" "$work/node/js_sdk.mjs"

out=$(mktemp)
"$bin" emulator --port 0 >"$out" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -f "$out"' EXIT
for _ in $(seq 1 100); do [ -s "$out" ] && break; sleep 0.1; done
conn=$(head -n 1 "$out")

"$work/venv/bin/python" "$here/python_sdk.py" "$conn"
node "$work/node/js_sdk.mjs" "$conn"
kill -TERM "$pid"
wait "$pid"
