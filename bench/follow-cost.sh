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
cd "$(dirname "$0")/.."
# shellcheck source=bench/write-setup.sh
. bench/write-setup.sh
SECS=${SECS:-8}
PORTS=(18094 18095 18096)
hold_vector_turn
# shellcheck source=bench/cpu-ticks.sh
. bench/cpu-ticks.sh
rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
minflt() { awk '{ print $10 }' "/proc/$1/stat"; }
work=$(mktemp -d)
for pass in $(seq "${PASSES:-2}"); do
  for cfg in ${CONFIGS:-default:}; do
    name=${cfg%%:*}
    start_servers "$cfg" "${PORTS[@]}"
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
