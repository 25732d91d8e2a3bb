#!/usr/bin/env bash
# How fast the vectors of a burst of skill creates follow, for one or more server builds in
# turn (one server at a time, builds alternating pass by pass, on one durable cluster).
#
#   PLANT_TEST_DB_DURABLE=1 scripts/test-db.sh run -- bench/vector-catch-up.sh NAME=SERVER ...
#
# Environment: PASSES (space-separated pass names, default "1 2 3"), SECS (seconds of creates,
# default 3), BINS (folder of plant-cli, default target/bench-release).
#
# Each run starts the server, waits until every skill has its vector, runs `wrk -t2 -c32` with
# `bench/lua/post-skill.lua` for SECS after a CHECKPOINT, then times the indexer's catch-up (no
# writes meanwhile) and prints the vectors a second and the CPU per vector of PostgreSQL's
# processes and of the server (from /proc). The catch-up is polled every 0.2 s with a count of
# the skills without a vector, which PostgreSQL's figure includes.
set -euo pipefail
: "${DATABASE_URL:?run it inside scripts/test-db.sh run --}"
[ $# -gt 0 ] || { sed -n 2,14p "$0" >&2; exit 2; }
cd "$(dirname "$0")/.."
BINS=${BINS:-target/bench-release}
SECS=${SECS:-3}
PORT=18301
psql_() { "$PLANT_PG_BIN/psql" --no-psqlrc -XAtq "$DATABASE_URL" -c "$1"; }
missing() { psql_ 'select count(*) from skill where embedding is null'; }
"$BINS/plant-cli" migrate >/dev/null
"$BINS/plant-cli" seed >/dev/null
PLANT_JWT_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
export PLANT_JWT_SECRET
TOKEN=$("$BINS/plant-cli" token --role genesis --ttl 14400 | tail -n 1)
tick=$(getconf CLK_TCK)
# shellcheck source=bench/cpu-ticks.sh
. bench/cpu-ticks.sh
postmaster=$(postmaster_pid)
SERVER_PID=
stop() { if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi; SERVER_PID=; }
trap stop EXIT
work=$(mktemp)
for pass in ${PASSES:-1 2 3}; do
  for spec in "$@"; do
    name=${spec%%=*}
    PORT=$PORT PLANT_DB_POOL_SIZE=10 LOG_FORMAT=json "${spec#*=}" >/dev/null 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 100); do curl -sf "localhost:$PORT/health" >/dev/null && break; sleep 0.1; done
    while [ "$(missing)" != 0 ]; do sleep 0.5; done
    psql_ checkpoint >/dev/null
    BENCH_TOKEN=$TOKEN BENCH_TAG="v$pass-$name-$RANDOM" wrk -t2 -c32 -d"${SECS}s" \
      -s bench/lua/post-skill.lua "http://127.0.0.1:$PORT/api/v1/genesis/skills" >"$work"
    t0=$(date +%s.%N)
    behind=$(missing)
    mapfile -t pg < <(pg_pids "$postmaster")
    g0=$(ticks_of "${pg[@]}"); s0=$(ticks_of "$SERVER_PID")
    while [ "$(missing)" != 0 ]; do sleep 0.2; done
    t1=$(date +%s.%N)
    mapfile -t pg < <(pg_pids "$postmaster")
    g1=$(ticks_of "${pg[@]}"); s1=$(ticks_of "$SERVER_PID")
    awk -v n="$name" -v p="$pass" -v m="$behind" -v t0="$t0" -v t1="$t1" -v g=$((g1 - g0)) \
      -v s=$((s1 - s0)) -v k="$tick" -v r="$(awk '/Requests\/sec/ { print $2 }' "$work")" 'BEGIN {
        t = t1 - t0
        printf "pass %s %s: creates %.0f req/s; %d vectors behind, caught up in %.1f s (%.0f a second); CPU per vector: PostgreSQL %.0f µs, server %.0f µs\n", p, n, r, m, t, m / t, g / k * 1e6 / m, s / k * 1e6 / m
      }'
    stop
  done
done
rm -f "$work"
"$BINS/plant-cli" verify | tail -n 1
