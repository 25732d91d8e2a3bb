#!/usr/bin/env bash
# A throwaway PostgreSQL 16 + pgvector for tests, installed from the PyPI package `pgserver`.
#
#   scripts/test-db.sh run -- CMD ARGS...   start a cluster, export DATABASE_URL,
#                                           PLANT_TEST_ADMIN_URL and PLANT_PG_BIN (the folder of
#                                           psql, pgbench, …), run CMD, stop and delete the
#                                           cluster (also on failure or Ctrl-C); exit with CMD's status
#   scripts/test-db.sh start                start a cluster in the background and print its exports
#   scripts/test-db.sh env                  print the exports of the running cluster
#   scripts/test-db.sh stop                 stop the cluster `start` left running and delete it
#   scripts/test-db.sh install              only install (idempotent)
#
# Environment:
#   PLANT_CACHE_DIR   where the install lives (default: <repo>/.cache); the install goes to
#                     $PLANT_CACHE_DIR/pgserver. When the PostgreSQL user cannot reach that folder
#                     (a clone under /root, say), /var/tmp/plant-cache/pgserver is used instead.
#   PLANT_PG_USER     the unprivileged user that runs the server when this script runs as root
#                     (default: postgres). PostgreSQL refuses to run as root.
#   PLANT_TEST_DB_DURABLE
#                     1: keep PostgreSQL's durable defaults (fsync, synchronous_commit and
#                     full_page_writes on), so that a commit is acknowledged only once its WAL is
#                     flushed. For benchmarks. Unset or 0: those three are off, which is right for
#                     a cluster that is thrown away after the tests and several times faster.
#
# Why this shape: the pgserver wheel ships relocatable PostgreSQL 16 binaries with pgvector built
# in, so a clean machine needs only Python's pip; nothing is fetched from anywhere but PyPI.
set -euo pipefail

readonly PGSERVER_VERSION="0.1.4"
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE_ROOT=${PLANT_CACHE_DIR:-$REPO/.cache}
STATE_FILE="$CACHE_ROOT/test-db.env"
FALLBACK_CACHE=/var/tmp/plant-cache
PG_USER=${PLANT_PG_USER:-postgres}
DB_NAME=plant
SUPERUSER=postgres

die() {
  echo "test-db: error: $*" >&2
  exit 1
}
note() { echo "test-db: $*" >&2; }

# Runs a PostgreSQL program as the unprivileged user (or as ourselves when we are not root),
# from /, so that a current directory the user cannot read (such as /root/...) does not trip it.
as_pg() {
  if [ "$(id -u)" -ne 0 ]; then
    (cd / && "$@")
  elif command -v runuser >/dev/null 2>&1; then
    (cd / && runuser -u "$PG_USER" -- "$@")
  else
    local quoted
    quoted=$(printf '%q ' "$@")
    (cd / && su "$PG_USER" -s /bin/sh -c "$quoted")
  fi
}

# True when the unprivileged user can traverse the folder (and so every parent of it).
pg_can_reach() {
  [ "$(id -u)" -ne 0 ] && return 0
  as_pg test -x "$1" -a -r "$1"
}

find_pip() {
  local py
  for py in python3 python; do
    if command -v "$py" >/dev/null 2>&1 && "$py" -m pip --version >/dev/null 2>&1; then
      echo "$py -m pip"
      return 0
    fi
  done
  for py in pip3 pip; do
    if command -v "$py" >/dev/null 2>&1; then
      echo "$py"
      return 0
    fi
  done
  return 1
}

# Sets INSTALL_DIR and BIN, installing pgserver into it unless it is already there.
install_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    id "$PG_USER" >/dev/null 2>&1 ||
      die "running as root needs an unprivileged user '$PG_USER' to run PostgreSQL (create it with 'useradd --system $PG_USER', or set PLANT_PG_USER)"
  fi
  umask 022
  local cache=$CACHE_ROOT
  mkdir -p "$cache" || die "cannot create the cache folder $cache"
  if ! pg_can_reach "$cache"; then
    note "user '$PG_USER' cannot reach $cache (a parent folder is not traversable); installing into $FALLBACK_CACHE instead"
    cache=$FALLBACK_CACHE
    mkdir -p "$cache" && chmod 755 "$cache" || die "cannot create $cache"
    pg_can_reach "$cache" || die "user '$PG_USER' cannot reach $cache either; set PLANT_CACHE_DIR to a world-readable folder"
  fi
  INSTALL_DIR="$cache/pgserver"
  BIN="$INSTALL_DIR/pgserver/pginstall/bin"
  [ -x "$BIN/postgres" ] && return 0

  # Two runs on one machine may race to install: one installs, the other waits.
  exec 9>"$cache/.pgserver.lock"
  command -v flock >/dev/null 2>&1 && flock 9
  if [ ! -x "$BIN/postgres" ]; then
    local pip
    pip=$(find_pip) || die "pip is needed to install PostgreSQL (pgserver==$PGSERVER_VERSION from PyPI); install python3-pip (apt-get install -y python3-pip)"
    note "installing PostgreSQL 16 + pgvector (pgserver==$PGSERVER_VERSION) into $INSTALL_DIR"
    local partial="$INSTALL_DIR.partial.$$"
    rm -rf "$partial"
    # --no-deps: only the wheel's binaries are used, not its Python helpers.
    if ! $pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps --target "$partial" \
      "pgserver==$PGSERVER_VERSION" >&2; then
      rm -rf "$partial"
      die "pip could not install pgserver==$PGSERVER_VERSION (is PyPI reachable? is this a Linux x86_64/aarch64 machine with glibc?)"
    fi
    [ -x "$partial/pgserver/pginstall/bin/postgres" ] ||
      die "pgserver==$PGSERVER_VERSION installed but has no pginstall/bin/postgres in $partial"
    # The binaries find their libraries through an RPATH into the sibling pgserver.libs folder;
    # keep the two together by moving the whole target folder into place at once.
    rm -rf "$INSTALL_DIR"
    mv "$partial" "$INSTALL_DIR"
  fi
  exec 9>&-
  pg_can_reach "$BIN" || die "user '$PG_USER' cannot read $BIN; make its parent folders world-readable or set PLANT_CACHE_DIR"
}

free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
  else
    local port
    for port in $(shuf -i 20000-60000 -n 50); do
      if ! (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "$port"
        return 0
      fi
    done
    return 1
  fi
}

# The server options on durability. Tests: fsync and friends off, the cluster is thrown away and
# speed matters more than durability, and checkpoints come at 128 MB of WAL rather than 1 GB, so
# that the WAL of hundreds of test databases does not outgrow a small disk (it reached 800 MB).
# Benchmarks (PLANT_TEST_DB_DURABLE=1): PostgreSQL's defaults, so that what is measured is what a
# crash would keep.
durability_settings() {
  case "${PLANT_TEST_DB_DURABLE:-0}" in
  1) ;;
  *) echo "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_wal_size=128MB -c min_wal_size=32MB" ;;
  esac
}

# Sets DATA_DIR, PORT, DATABASE_URL, PLANT_TEST_ADMIN_URL with a running, ready cluster.
start_cluster() {
  case "${PLANT_TEST_DB_DURABLE:-0}" in
  0 | 1) ;;
  *) die "PLANT_TEST_DB_DURABLE must be 0 or 1, not '$PLANT_TEST_DB_DURABLE'" ;;
  esac
  install_pg
  DATA_DIR=$(mktemp -d "${TMPDIR:-/tmp}/plant-pg.XXXXXX")
  chmod 700 "$DATA_DIR"
  [ "$(id -u)" -eq 0 ] && chown "$PG_USER" "$DATA_DIR"
  pg_can_reach "$DATA_DIR" || die "user '$PG_USER' cannot reach the data folder $DATA_DIR; set TMPDIR to a world-traversable folder"

  local log="$DATA_DIR/initdb.log"
  if ! as_pg "$BIN/initdb" --pgdata="$DATA_DIR/data" --username="$SUPERUSER" --auth=trust \
    --encoding=UTF8 --locale=C.UTF-8 --no-instructions --no-sync >"$log" 2>&1; then
    cat "$log" >&2
    die "initdb failed (log above)"
  fi

  local attempt
  for attempt in 1 2 3; do
    PORT=$(free_port) || die "found no free TCP port on 127.0.0.1"
    if as_pg "$BIN/pg_ctl" --pgdata="$DATA_DIR/data" --log="$DATA_DIR/data/server.log" --wait \
      --timeout=60 --silent start -o "-h 127.0.0.1 -p $PORT -k $DATA_DIR/data \
        $(durability_settings) -c max_connections=400 -c shared_buffers=128MB" >/dev/null 2>&1; then
      break
    fi
    # Another process may have taken the port between our probe and the bind: try another.
    [ "$attempt" -eq 3 ] && {
      tail -n 30 "$DATA_DIR/data/server.log" >&2 || true
      die "PostgreSQL did not start (server log above)"
    }
  done

  as_pg "$BIN/psql" --no-psqlrc --quiet -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" \
    -U "$SUPERUSER" -d postgres -c "create database $DB_NAME" >/dev/null ||
    die "could not create the database $DB_NAME"
  as_pg "$BIN/psql" --no-psqlrc --quiet -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" \
    -U "$SUPERUSER" -d "$DB_NAME" -c "create extension if not exists vector" >/dev/null ||
    die "the pgvector extension could not be created"

  DATABASE_URL="postgres://$SUPERUSER@127.0.0.1:$PORT/$DB_NAME"
  PLANT_TEST_ADMIN_URL="postgres://$SUPERUSER@127.0.0.1:$PORT/postgres"
}

stop_cluster() {
  local data_dir=$1 bin=$2
  if [ -d "$data_dir/data" ]; then
    as_pg "$bin/pg_ctl" --pgdata="$data_dir/data" --mode=fast --wait --silent stop \
      >/dev/null 2>&1 || true
  fi
  rm -rf "$data_dir"
}

print_exports() {
  echo "export DATABASE_URL='$DATABASE_URL'"
  echo "export PLANT_TEST_ADMIN_URL='$PLANT_TEST_ADMIN_URL'"
}

durability_note() {
  if [ "${PLANT_TEST_DB_DURABLE:-0}" = 1 ]; then
    echo "durable: fsync, synchronous_commit, full_page_writes on"
  else
    echo "not durable: fsync, synchronous_commit, full_page_writes off"
  fi
}

cmd_run() {
  [ "${1:-}" = "--" ] && shift
  [ $# -gt 0 ] || die "usage: $0 run -- CMD ARGS..."
  trap 'stop_cluster "${DATA_DIR:-/nonexistent}" "${BIN:-/nonexistent}"' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  start_cluster
  PLANT_PG_BIN=$BIN
  export DATABASE_URL PLANT_TEST_ADMIN_URL PLANT_PG_BIN
  note "PostgreSQL 16 ready at $DATABASE_URL ($(durability_note))"
  local status=0
  "$@" || status=$?
  exit "$status"
}

running_state() {
  [ -f "$STATE_FILE" ] || return 1
  # shellcheck disable=SC1090
  . "$STATE_FILE"
  [ -n "${DATA_DIR:-}" ] && [ -f "$DATA_DIR/data/postmaster.pid" ]
}

cmd_start() {
  if running_state; then
    note "already running (state in $STATE_FILE)"
    print_exports
    return 0
  fi
  start_cluster
  mkdir -p "$(dirname "$STATE_FILE")"
  {
    echo "DATA_DIR='$DATA_DIR'"
    echo "BIN='$BIN'"
    echo "PORT='$PORT'"
    echo "DATABASE_URL='$DATABASE_URL'"
    echo "PLANT_TEST_ADMIN_URL='$PLANT_TEST_ADMIN_URL'"
  } >"$STATE_FILE"
  note "PostgreSQL 16 running on 127.0.0.1:$PORT; stop it with: $0 stop"
  print_exports
}

cmd_env() {
  running_state || die "no cluster is running (start one with: $0 start)"
  print_exports
}

cmd_stop() {
  if [ ! -f "$STATE_FILE" ]; then
    note "no cluster is running"
    return 0
  fi
  # shellcheck disable=SC1090
  . "$STATE_FILE"
  stop_cluster "$DATA_DIR" "$BIN"
  rm -f "$STATE_FILE"
  note "stopped"
}

case "${1:-}" in
run)
  shift
  cmd_run "$@"
  ;;
start) cmd_start ;;
stop) cmd_stop ;;
env) cmd_env ;;
install)
  install_pg
  note "installed in $INSTALL_DIR"
  ;;
*)
  sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
  ;;
esac
