# Sourced by .ci/run: installs Debian's PostgreSQL when missing, starts a
# throwaway server on 127.0.0.1 (its own data directory, trust auth) and
# exports ACS_TS_POSTGRES_URL for the token service's tests. The caller runs
# stop_postgres when done (an EXIT trap does it if the run fails before).
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$pg_bin" ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi
pg_data=$(mktemp -d /tmp/acs-ts-pg.XXXXXX)
# A free port unless one is given (python3 is installed by .ci/run).
pg_port=${ACS_TS_POSTGRES_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
# The server refuses to run as root: as root, run it as the package's user.
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  chown postgres "$pg_data"
  as_pg() { runuser -u postgres -- "$@"; }
else
  as_pg() { "$@"; }
fi
as_pg "$pg_bin/initdb" -D "$pg_data/db" -A trust -U postgres >/dev/null
as_pg "$pg_bin/pg_ctl" -D "$pg_data/db" -l "$pg_data/log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $pg_data" start >/dev/null
stop_postgres() { as_pg "$pg_bin/pg_ctl" -D "$pg_data/db" -m fast stop >/dev/null 2>&1 || true; rm -rf "$pg_data"; }
trap stop_postgres EXIT
export ACS_TS_POSTGRES_URL="postgres://postgres@127.0.0.1:$pg_port/postgres"
echo "$("$pg_bin/postgres" --version) at $ACS_TS_POSTGRES_URL"
