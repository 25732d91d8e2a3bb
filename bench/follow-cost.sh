#!/usr/bin/env bash
# What a server that takes no requests spends following the chain: three plant-server processes
# on one durable PostgreSQL, skill creates through the first only, and the CPU time of the two
# others (their read models read each entry back and fold it) per entry appended.
#
#   PLANT_TEST_DB_DURABLE=1 scripts/test-db.sh run -- bench/follow-cost.sh
#
# Environment:
#   CONFIGS   space-separated NAME:VAR=VALUE,VAR=VALUE... (default "default:"); SERVER=PATH in
#             a configuration runs that binary instead of $BINS/plant-server
#   BINS      folder of plant-server and plant-cli (default target/bench-release)
#   PASSES    passes over the configurations [2]
#   SECS      seconds of writes per row [8]
#
# A session holds the vector turn for the whole run (as `INDEX=0` in bench/processes.sh), so
# no server stores vectors. Prints per row the write rate, the CPU time (user + system, from
# /proc) of each following server per entry, and how much the first follower's RSS grew and how
# many minor page faults it took per entry.
set -euo pipefail
: "${DATABASE_URL:?run it inside scripts/test-db.sh run --}"
cd "$(dirname "$0")/.."
BINS=${BINS:-target/bench-release}
SECS=${SECS:-8}
PORTS=(18094 18095 18096)
psql_() { "$PLANT_PG_BIN/psql" --no-psqlrc -XAtq "$DATABASE_URL" -c "$1"; }
"$BINS/plant-cli" migrate >/dev/null
"$BINS/plant-cli" seed >/dev/null
PLANT_JWT_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
export PLANT_JWT_SECRET
TOKEN=$("$BINS/plant-cli" token --role genesis --ttl 14400 | tail -n 1)
PIDS=()
stop_all() { if [ ${#PIDS[@]} -gt 0 ]; then kill "${PIDS[@]}" 2>/dev/null || true; wait "${PIDS[@]}" 2>/dev/null || true; fi; PIDS=(); }
"$PLANT_PG_BIN/psql" --no-psqlrc -XAtq "$DATABASE_URL" -c "select pg_advisory_lock($((0x706c616e742d7674)))" \
  -c "select pg_sleep(86400)" >/dev/null 2>&1 &
HOLDER=$!
stop_holder() {
  kill "$HOLDER" 2>/dev/null || true
  wait "$HOLDER" 2>/dev/null || true
  psql_ "select pg_terminate_backend(pid) from pg_stat_activity where query = 'select pg_sleep(86400)'" >/dev/null
}
trap 'stop_all; stop_holder' EXIT
. bench/cpu-ticks.sh
rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
minflt() { awk '{ print $10 }' "/proc/$1/stat"; }
work=$(mktemp -d)
for pass in $(seq "${PASSES:-2}"); do
  for cfg in ${CONFIGS:-default:}; do
    name=${cfg%%:*}
    server="$BINS/plant-server" vars=()
    for kv in $(echo "${cfg#*:}" | tr ',' ' '); do
      case $kv in SERVER=*) server=${kv#SERVER=} ;; *) vars+=("$kv") ;; esac
    done
    for p in "${PORTS[@]}"; do
      env "${vars[@]}" PORT="$p" PLANT_DB_POOL_SIZE=10 LOG_FORMAT=json "$server" >/dev/null 2>&1 &
      PIDS+=($!)
    done
    for p in "${PORTS[@]}"; do
      for _ in $(seq 100); do curl -sf "localhost:$p/health" >/dev/null && break; sleep 0.1; done
    done
    psql_ checkpoint >/dev/null
    h0=$(psql_ "select seq from audit_head")
    a0=$(ticks_of "${PIDS[1]}") b0=$(ticks_of "${PIDS[2]}") r0=$(rss_kib "${PIDS[1]}") f0=$(minflt "${PIDS[1]}")
    BENCH_TOKEN=$TOKEN BENCH_TAG="f$pass-$name-$RANDOM" wrk -t2 -c32 -d"${SECS}s" \
      -s bench/lua/post-skill.lua "http://127.0.0.1:${PORTS[0]}/api/v1/genesis/skills" >"$work/wrk.txt" 2>&1
    # The followers' last reads of the chain.
    sleep 1
    h1=$(psql_ "select seq from audit_head")
    a1=$(ticks_of "${PIDS[1]}") b1=$(ticks_of "${PIDS[2]}") r1=$(rss_kib "${PIDS[1]}") f1=$(minflt "${PIDS[1]}")
    rate=$(awk '/Requests\/sec/ { printf "%.0f", $2 }' "$work/wrk.txt")
    awk -v pass="$pass" -v name="$name" -v rate="$rate" -v n=$((h1 - h0)) -v a=$((a1 - a0)) \
      -v b=$((b1 - b0)) -v k="$(getconf CLK_TCK)" -v r=$((r1 - r0)) -v f=$((f1 - f0)) 'BEGIN {
        printf "pass %s %s: %s req/s, %d entries; followers %.1f and %.1f µs of CPU per entry; first follower RSS +%.0f MiB, %.2f minor page faults per entry\n",
          pass, name, rate, n, a / k * 1e6 / n, b / k * 1e6 / n, r / 1024, f / n
      }'
    stop_all
  done
done
rm -rf "$work"
