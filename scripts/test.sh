#!/usr/bin/env bash
# The whole suite: lint, unit, integration on SQLite and on a throwaway PostgreSQL, browser tests.
# Installs Debian's postgresql and chromium when they are missing (needs root or sudo for that).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

apt_install() {
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y -q "$@" >/dev/null 2>&1 || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q "$@" >/dev/null; }
}

initdb_path() { ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1; }
missing=()
[ -n "$(initdb_path)" ] || missing+=(postgresql)
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing ${missing[*]}"
  apt_install "${missing[@]}"
fi

echo "== catalogs"
$BIN/pybabel compile --domain=messages --directory=cosa/locale >/dev/null

echo "== lint"
$BIN/ruff check .
$BIN/ruff format --check . >/dev/null || { $BIN/ruff format --diff . | head -40; exit 1; }
$BIN/mypy

export COSA_ENV=test
echo "== unit and integration tests on SQLite"
$BIN/python -m pytest -q -p no:cacheprovider tests/unit tests/integration

echo "== integration tests on PostgreSQL"
PGBIN=$(dirname "$(initdb_path)")
PGTMP=$(mktemp -d /tmp/cosa-pg.XXXXXX)
RUNAS=()
if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$PGTMP"; RUNAS=(runuser -u postgres --); fi
PGPORT=$($BIN/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
stop_pg() { "${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$PGTMP/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$PGTMP"; }
trap stop_pg EXIT
"${RUNAS[@]}" "$PGBIN/initdb" -D "$PGTMP/data" -U cosa --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
"${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$PGTMP/data" -l "$PGTMP/server.log" -w \
  -o "-p $PGPORT -k $PGTMP -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off" start >/dev/null
"$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U cosa cosa_test
DATABASE_URL="postgresql://cosa@127.0.0.1:$PGPORT/cosa_test" $BIN/python -m pytest -q -p no:cacheprovider tests/integration

echo "== browser tests (headless Chromium)"
$BIN/python -m pytest -q -p no:cacheprovider tests/browser
echo "== all passed"
