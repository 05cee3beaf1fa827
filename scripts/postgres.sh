#!/usr/bin/env bash
# Start a throw-away PostgreSQL server on 127.0.0.1 for the test suite, installing it from
# Debian's packages when it is missing. Prints `export MODELYARD_TEST_PG_URL=...` and
# `export MODELYARD_TEST_PG_DIR=...` for the caller to eval; `stop DIR` stops that server.
set -euo pipefail

find_bin() {
  local name=$1
  if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return; fi
  ls -d /usr/lib/postgresql/*/bin/"$name" 2>/dev/null | sort -V | tail -n 1
}

as_owner() {
  # from / : the postgres user may not enter the caller's folder (a private clone), and
  # pg_ctl would say so on every start ("could not change directory ... Permission denied")
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

case "${1:-start}" in
start)
  if [ -z "$(find_bin initdb)" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "installing PostgreSQL from Debian's packages ..." >&2
      apt-get update -qq >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    else
      if [ "${CI:-}" = true ]; then
        echo "CI=true: PostgreSQL is required and cannot be installed here" >&2
        exit 1
      fi
      echo "PostgreSQL is not installed and cannot be installed here; skipping its tests" >&2
      exit 0
    fi
  fi
  initdb=$(find_bin initdb); pg_ctl=$(find_bin pg_ctl)
  if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/postgresql postgres
  fi
  dir=$(mktemp -d /tmp/modelyard-pg.XXXXXX)
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  as_owner "$initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1
  as_owner "$pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
    start >&2
  echo "export MODELYARD_TEST_PG_URL=postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
  echo "export MODELYARD_TEST_PG_DIR=$dir"
  ;;
stop)
  dir=${2:?usage: postgres.sh stop DIR}
  pg_ctl=$(find_bin pg_ctl)
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_owner "$pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
  fi
  rm -rf "$dir"
  ;;
esac
