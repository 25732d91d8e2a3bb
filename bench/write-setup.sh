# shellcheck shell=bash
# Set-up shared by the bench scripts that run several plant-server processes on one database
# (bench/processes.sh, bench/follow-cost.sh); sourced from the repository's root, inside
# scripts/test-db.sh run --.
#
# Migrates and seeds the database with $BINS/plant-cli, exports a random PLANT_JWT_SECRET and
# sets TOKEN (a genesis token under it), and defines psql_ SQL, PIDS with stop_all (the
# servers a script started), and hold_vector_turn / stop_holder: a session holding the vector
# turn (the advisory lock `plant-vt`, see plant-core's store/postgres/turn.rs), so that no
# server stores vectors while it is held; start_servers starts a configuration's servers,
# post_skills loads them, wrk_requests and audit_batches count what a row did. An EXIT trap
# stops the servers and the holder.

: "${DATABASE_URL:?run it inside scripts/test-db.sh run --}"
BINS=${BINS:-target/bench-release}
psql_() { "$PLANT_PG_BIN/psql" --no-psqlrc -XAtq "$DATABASE_URL" -c "$1"; }
"$BINS/plant-cli" migrate >/dev/null
"$BINS/plant-cli" seed >/dev/null
PLANT_JWT_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
export PLANT_JWT_SECRET
# shellcheck disable=SC2034 # read by the scripts that source this file
TOKEN=$("$BINS/plant-cli" token --role genesis --ttl 14400 | tail -n 1)
PIDS=()
stop_all() { if [ ${#PIDS[@]} -gt 0 ]; then kill "${PIDS[@]}" 2>/dev/null || true; wait "${PIDS[@]}" 2>/dev/null || true; fi; PIDS=(); }
# start_servers NAME:VAR=VALUE,... PORT...: a server per port with the configuration's settings
# (SERVER=PATH runs that binary instead of $BINS/plant-server), added to PIDS; returns once each
# answers /health.
start_servers() {
  local cfg=$1 server="$BINS/plant-server" vars=() kv p
  shift
  for kv in $(echo "${cfg#*:}" | tr ',' ' '); do
    case $kv in SERVER=*) server=${kv#SERVER=} ;; *) vars+=("$kv") ;; esac
  done
  for p in "$@"; do
    env "${vars[@]}" PORT="$p" PLANT_DB_POOL_SIZE=10 LOG_FORMAT=json "$server" >/dev/null 2>&1 &
    PIDS+=($!)
  done
  for p in "$@"; do
    for _ in $(seq 100); do curl -sf "localhost:$p/health" >/dev/null && break; sleep 0.1; done
  done
}
# post_skills N SECS TAG DIR [WRK_ARG...]: wrk posting skills to the servers on the first N of
# PORTS for SECS, 32 connections split over them, with the extra wrk arguments; each wrk's
# output in DIR/wrk-I.txt. Returns when every wrk has ended.
post_skills() {
  local n=$1 secs=$2 tag=$3 dir=$4 i conns threads wp=()
  shift 4
  for i in $(seq 0 $((n - 1))); do
    conns=$(((32 + i) / n)); threads=2; [ "$n" -gt 1 ] && threads=1
    BENCH_TOKEN=$TOKEN BENCH_TAG="$tag-$n-$i-$RANDOM" wrk -t$threads -c$conns -d"${secs}s" "$@" \
      -s bench/lua/post-skill.lua "http://127.0.0.1:${PORTS[$i]}/api/v1/genesis/skills" \
      >"$dir/wrk-$i.txt" 2>&1 &
    wp+=($!)
  done
  wait "${wp[@]}"
}
# wrk_requests DIR: the requests the wrk outputs in DIR completed.
wrk_requests() { cat "$1"/wrk-*.txt | awk '/requests in/ { r += $1 } END { print r + 0 }'; }
# audit_batches: the batches appended so far (each updates the chain's head row once).
audit_batches() { psql_ "select n_tup_upd from pg_stat_user_tables where relname = 'audit_head'"; }
HOLDER=
# "plant-vt" as a big-endian i64, the key of the vector turn.
VECTOR_TURN_KEY=$((0x706c616e742d7674))
hold_vector_turn() {
  "$PLANT_PG_BIN/psql" --no-psqlrc -XAtq "$DATABASE_URL" -c "select pg_advisory_lock($VECTOR_TURN_KEY)" \
    -c "select pg_sleep(86400)" >/dev/null 2>&1 &
  HOLDER=$!
  for _ in $(seq 50); do
    [ "$(psql_ "select count(*) from pg_locks where locktype = 'advisory' and granted and objid = $((VECTOR_TURN_KEY & 0xffffffff))")" = 1 ] && break
    sleep 0.1
  done
}
stop_holder() {
  [ -n "$HOLDER" ] || return 0
  kill "$HOLDER" 2>/dev/null || true
  wait "$HOLDER" 2>/dev/null || true
  psql_ "select pg_terminate_backend(pid) from pg_stat_activity where query = 'select pg_sleep(86400)'" >/dev/null
  HOLDER=
}
trap 'stop_all; stop_holder' EXIT
