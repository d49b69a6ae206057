#!/usr/bin/env bash
# Builds the two container images (`cargo xtask image`) into a private
# buildah storage under a temporary folder, runs each with buildah's chroot
# isolation (no daemon: the container shares this machine's network, so its
# ports are reached on 127.0.0.1), checks them, and removes the storage.
#
#   emulator image: its own entrypoint on 0.0.0.0:10700 answers the
#     well-known connection string for the official Python SDK; state in a
#     mounted /data survives a restart (with --tls, its certificate
#     generated there); SIGTERM stops it with exit 0.
#   token service image: configured by environment variables and a mounted
#     file, pointed at the emulator container over https (its certificate
#     trusted through SSL_CERT_FILE), answers a signed-in caller,
#     refuses others, serves /healthz and /readyz, logs on stderr, and stops
#     cleanly on SIGTERM.
#   both: exactly the files expected (no shell, no build tools, no source),
#     a non-root user, OCI labels.
#
# Usage: tests/containers/run.sh ISSUER
#   ISSUER: an acs-identity-token-service built with the `emulator` feature
#   (`cargo test --workspace` leaves one at target/debug/); only its
#   development sign-in issuer is used, on the host, standing in for the
#   app's identity provider.
# Needs buildah (Debian: apt-get install buildah), python3 with venv, curl;
# run as root (buildah's chroot isolation with a private storage).
set -euo pipefail
issuer_bin=$(realpath "$1")
"$issuer_bin" --help | grep -q -- --emulator \
  || { echo "$1 has no --emulator: build it with the emulator feature (cargo test --workspace does)" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
root=$(realpath "$here/../..")
target=${CARGO_TARGET_DIR:-$root/target}
case $target in /*) ;; *) target=$root/$target ;; esac
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n 1)
well_known="endpoint=http://127.0.0.1:10700/;accesskey=YWNzLWlkZW50aXR5LWVtdWxhdG9yIGRldmVsb3BtZW50IGtleSwgbm90IGEgc2VjcmV0"

work=$(mktemp -d /tmp/acs-images.XXXXXX)
B=(buildah --storage-driver vfs --root "$work/storage" --runroot "$work/run")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  "${B[@]}" rm --all >/dev/null 2>&1 || true
  "${B[@]}" rmi --all --force >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "FAILED: $*" >&2; exit 1; }

# Waits (at most 20 s) until FILE has a line matching PATTERN.
wait_for_line() {
  local file=$1 pattern=$2 pid=$3
  for _ in $(seq 1 200); do
    grep -q -- "$pattern" "$file" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "--- $file"; cat "$file"; echo "--- stderr"; cat "${file%.out}.err" 2>/dev/null || true
  fail "no line matching '$pattern' in $file"
}

# Sends SIGTERM to the container's process (under `buildah run`), waits (at
# most 20 s) for buildah to end and sets `stopped` to its exit status.
stop_container() {
  local pid=$1 child
  child=$(ps -o pid= --ppid "$pid" | head -n 1 | tr -d ' ')
  # buildah's chroot runtime re-executes itself: the service is the leaf.
  while [ -n "$child" ] && [ -n "$(ps -o pid= --ppid "$child" | head -n 1)" ]; do
    child=$(ps -o pid= --ppid "$child" | head -n 1 | tr -d ' ')
  done
  kill -TERM "${child:-$pid}"
  for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && fail "the container did not stop within 20 s of SIGTERM"
  stopped=0
  wait "$pid" || stopped=$?
}

# The image's OCI configuration (JSON).
config_of() {
  "${B[@]}" inspect --type image "$1" | python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)["OCIv1"]["config"]))'
}

# The image's entrypoint and command, one argument a line.
argv_of() {
  config_of "$1" | python3 -c '
import json, sys
c = json.load(sys.stdin)
print("\n".join((c.get("Entrypoint") or []) + (c.get("Cmd") or [])))'
}

# Whatever is listening on 127.0.0.1:PORT refuses or answers (0), or nothing is (1).
port_busy() { python3 -c 'import socket, sys; s = socket.socket(); sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)' "$1"; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

echo "== cargo xtask image (private storage in $work)"
started=$(date +%s)
(cd "$root" && cargo xtask image --root "$work/storage" --runroot "$work/run")
echo "images built in $(($(date +%s) - started)) s"
host_cli=$target/x86_64-unknown-linux-gnu/release/acs-identity

echo "== what the images hold"
for name in acs-identity-emulator acs-identity-token-service; do
  image=localhost/$name:$version
  config=$(config_of "$image")
  python3 - "$name" "$version" "$config" <<'EOF'
import json, sys
name, version, config = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
labels = config.get("Labels") or {}
for key, want in [("org.opencontainers.image.version", version),
                  ("org.opencontainers.image.licenses", "MIT"),
                  ("org.opencontainers.image.title", name)]:
    assert labels.get(key) == want, (key, labels.get(key))
assert labels.get("org.opencontainers.image.source", "").startswith("https://"), labels
assert config.get("User") == "65532:65532", config.get("User")
port = {"acs-identity-emulator": "10700/tcp", "acs-identity-token-service": "8090/tcp"}[name]
assert port in (config.get("ExposedPorts") or {}), config.get("ExposedPorts")
assert "/data" in (config.get("Volumes") or {}), config.get("Volumes")
print(f"{name}: user {config['User']}, port {port}, volume /data, labels {sorted(labels)}")
EOF
  ctr=$("${B[@]}" from --pull=never --quiet "$image")
  mnt=$("${B[@]}" mount "$ctr")
  files=$(cd "$mnt" && find . -mindepth 1 -printf '%y %p %U %m\n' | sort)
  "${B[@]}" umount "$ctr" >/dev/null
  "${B[@]}" rm "$ctr" >/dev/null
  bin=acs-identity; [ "$name" = acs-identity-token-service ] && bin=acs-identity-token-service
  expected=$(sort <<EOF
d ./data 65532 755
d ./etc 0 755
d ./etc/ssl 0 755
d ./etc/ssl/certs 0 755
d ./tmp 0 1777
d ./usr 0 755
d ./usr/local 0 755
d ./usr/local/bin 0 755
d ./usr/share 0 755
d ./usr/share/doc 0 755
d ./usr/share/doc/acs-identity 0 755
f ./etc/group 0 644
f ./etc/nsswitch.conf 0 644
f ./etc/passwd 0 644
f ./etc/ssl/certs/ca-certificates.crt 0 644
f ./usr/local/bin/$bin 0 755
f ./usr/share/doc/acs-identity/LICENSE 0 644
EOF
)
  [ "$files" = "$expected" ] || { echo "$files"; fail "$name holds other files than expected"; }
  echo "$name: exactly the $(grep -c '^f' <<<"$files") files and $(grep -c '^d' <<<"$files") folders expected (owners, modes)"
done

echo "== the emulator image"
mapfile -t emulator_argv < <(argv_of "localhost/acs-identity-emulator:$version")
echo "entrypoint + command: ${emulator_argv[*]}"
if port_busy 10700; then
  # Another emulator on this machine holds the well-known port: same image,
  # another port (the container shares the host's network).
  port=$(free_port)
  emulator_argv+=(--port "$port")
  conn="endpoint=http://127.0.0.1:$port/;accesskey=${well_known#*accesskey=}"
  echo "port 10700 is in use on this machine: the emulator container takes $port"
else
  port=10700
  conn=$well_known
fi
volume=$work/data
mkdir -p "$volume"
chown 65532:65532 "$volume"
emulator=$("${B[@]}" from --pull=never --quiet "localhost/acs-identity-emulator:$version")
# `buildah run` mounts a fresh folder of its own over each VOLUME of the
# image, on top of --volume: drop it from this working container (not the
# image) so that /data is the folder mounted, as with docker/podman run -v.
"${B[@]}" config --volume /data- "$emulator"
start_emulator() {
  "${B[@]}" run --isolation chroot --volume "$volume:/data" "$emulator" -- "${emulator_argv[@]}" \
    </dev/null >"$work/emulator.out" 2>"$work/emulator.err" &
  emulator_pid=$!
  pids+=("$emulator_pid")
  wait_for_line "$work/emulator.out" "^endpoint=" "$emulator_pid"
}
start_emulator
printed=$(head -n 1 "$work/emulator.out")
[ "$printed" = "$conn" ] || fail "the emulator printed $printed, not $conn"
echo "the container answers at $printed"
# The process runs as the image's user, not root.
emulator_uid=$(stat -c %u "$volume/state.db")
[ "$emulator_uid" = 65532 ] || fail "the state file belongs to $emulator_uid, not 65532"

python="$target/interop/venv/bin/python"
if [ ! -x "$python" ]; then
  python3 -m venv "$target/interop/venv"
fi
"$target/interop/venv/bin/pip" install --quiet --disable-pip-version-check 'azure-communication-identity==1.5.0' 'aiohttp>=3.9,<4'
"$python" "$root/tests/interop/python_sdk.py" "$conn"

user=$(ACS_CONNECTION_STRING=$conn "$host_cli" user create --output json \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["identity"]["id"])')
stop_container "$emulator_pid"
[ "$stopped" = 0 ] || fail "the emulator exited with $stopped on SIGTERM"
echo "the emulator container stopped on SIGTERM (exit 0); restarting it on the same /data, with --tls"
# https from here on: the certificate is generated beside the data file, so
# in the volume, and the token service container trusts it through
# SSL_CERT_FILE, the way its image points at its CA roots.
emulator_argv+=(--tls)
start_emulator
cert=$(sed -n 's/^TLS certificate: \([^ ]*\) .*/\1/p' "$work/emulator.err")
case $cert in /data/?*) ;; *) fail "the certificate is not in /data: '$cert'" ;; esac
cert=${cert#/data/}
conn=$(head -n 1 "$work/emulator.out")
case $conn in "endpoint=https://127.0.0.1:$port/;"*) ;; *) fail "not an https connection string: $conn" ;; esac
SSL_CERT_FILE=$volume/$cert ACS_CONNECTION_STRING=$conn "$host_cli" user get "$user" --output json >/dev/null \
  || fail "$user did not survive the restart"
echo "$user survived the restart (state in the mounted /data)"

echo "== the token service image"
# The development issuer of a token service built with `emulator` (its own
# emulator and service are unused, on free loopback ports).
env -u ACS_CONNECTION_STRING ACS_TS_LISTEN=127.0.0.1:0 "$issuer_bin" --emulator \
  </dev/null >"$work/issuer.out" 2>"$work/issuer.err" &
issuer_pid=$!
pids+=("$issuer_pid")
wait_for_line "$work/issuer.err" "^Development sign-in issuer: " "$issuer_pid"
issuer=$(sed -n 's/^Development sign-in issuer: \([^ ]*\) .*/\1/p' "$work/issuer.err")

service_port=$(free_port)
mkdir -p "$work/config"
printf '[tokens]\nscopes = ["chat"]\n' >"$work/config/service.toml"
service=$("${B[@]}" from --pull=never --quiet "localhost/acs-identity-token-service:$version")
mapfile -t service_argv < <(argv_of "localhost/acs-identity-token-service:$version")
"${B[@]}" run --isolation chroot \
  --volume "$work/config:/config:ro" \
  --volume "$volume:/certs:ro" \
  --env "SSL_CERT_FILE=/certs/$cert" \
  --env "ACS_TS_CONFIG=/config/service.toml" \
  --env "ACS_CONNECTION_STRING=$conn" \
  --env "ACS_TS_OIDC_ISSUER=$issuer" \
  --env "ACS_TS_OIDC_AUDIENCE=containers-test" \
  --env "ACS_TS_LISTEN=0.0.0.0:$service_port" \
  "$service" -- "${service_argv[@]}" \
  </dev/null >"$work/service.out" 2>"$work/service.err" &
service_pid=$!
pids+=("$service_pid")
wait_for_line "$work/service.out" "^http://" "$service_pid"
url=http://127.0.0.1:$service_port
curl -sf "$url/healthz" | python3 -c 'import json, sys; assert json.load(sys.stdin)["status"] == "ok"'
curl -sf "$url/readyz" >/dev/null || { curl -s "$url/readyz"; fail "/readyz is not 200"; }
echo "/healthz and /readyz answer 200"

code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/token" -H 'content-type: application/json' -d '{"scopes": ["chat"]}')
[ "$code" = 401 ] || fail "a caller without a sign-in token got $code, not 401"
signin=$(curl -sf -X POST "$issuer/token?sub=alice&aud=containers-test")
answer=$(curl -sf -X POST "$url/token" -H "authorization: Bearer $signin" \
  -H 'content-type: application/json' -d '{"scopes": ["chat"]}')
acs_user=$(python3 -c 'import json, sys; a = json.loads(sys.argv[1]); assert a["token"] and a["expiresOn"]; print(a["userId"])' "$answer")
SSL_CERT_FILE=$volume/$cert ACS_CONNECTION_STRING=$conn "$host_cli" user get "$acs_user" --output json >/dev/null \
  || fail "$acs_user is not in the emulator container"
echo "a signed-in caller got a token for $acs_user, an identity of the emulator container (over https)"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/token" -H "authorization: Bearer $signin" \
  -H 'content-type: application/json' -d '{"scopes": ["voip"]}')
[ "$code" = 403 ] || fail "voip, left out by the mounted file, got $code, not 403"
echo "voip is refused (403): the mounted configuration file is read"

stop_container "$service_pid"
[ "$stopped" = 0 ] || fail "the token service exited with $stopped on SIGTERM"
grep -q '^Stopped\.$' "$work/service.err" || fail "no 'Stopped.' on stderr"
[ "$(wc -l <"$work/service.out")" = 1 ] || fail "stdout holds more than the URL"
grep -q 'method=POST path="/token" status=200' "$work/service.err" || { cat "$work/service.err"; fail "no request log on stderr"; }
echo "the token service logged on stderr and stopped on SIGTERM (exit 0, 'Stopped.')"

stop_container "$emulator_pid"
[ "$stopped" = 0 ] || fail "the emulator exited with $stopped on SIGTERM"
echo "container images: all checks passed"
