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

state=$(mktemp -d)
trap 'kill "${pid:-}" "${tls_pid:-}" 2>/dev/null || true; rm -rf "$state"' EXIT

# Plain http.
"$bin" emulator --port 0 --quiet >"$state/plain.out" &
pid=$!
for _ in $(seq 1 100); do [ -s "$state/plain.out" ] && break; sleep 0.1; done
conn=$(head -n 1 "$state/plain.out")
"$work/venv/bin/python" "$here/python_sdk.py" "$conn"
node "$work/node/js_sdk.mjs" "$conn"
kill -TERM "$pid"
wait "$pid"

# https with a certificate generated beside the data file, trusted the
# usual way: the clients come from the connection string alone.
"$bin" emulator --port 0 --quiet --tls --data "$state/state.db" >"$state/tls.out" 2>"$state/tls.err" &
tls_pid=$!
for _ in $(seq 1 100); do [ -s "$state/tls.out" ] && grep -q "TLS certificate:" "$state/tls.err" && break; sleep 0.1; done
conn=$(head -n 1 "$state/tls.out")
cert=$(sed -n 's/^TLS certificate: \([^ ]*\) .*/\1/p' "$state/tls.err")
[ -f "$cert" ] || { echo "no certificate path on stderr:"; cat "$state/tls.err"; exit 1; }
REQUESTS_CA_BUNDLE="$cert" SSL_CERT_FILE="$cert" "$work/venv/bin/python" "$here/python_sdk.py" "$conn"
NODE_EXTRA_CA_CERTS="$cert" node "$work/node/js_sdk.mjs" "$conn"
kill -TERM "$tls_pid"
wait "$tls_pid"
