#!/usr/bin/env bash
# Audited writes over one, two and three plant-server processes on one durable PostgreSQL, for
# one or more server builds or settings side by side, interleaved (the tables grow as rows run,
# so each configuration meets the same growth).
#
#   PLANT_TEST_DB_DURABLE=1 scripts/test-db.sh run -- bench/processes.sh
#
# Environment:
#   CONFIGS   space-separated NAME:VAR=VALUE,VAR=VALUE... (default "default:"); SERVER=PATH in
#             a configuration runs that binary instead of $BINS/plant-server
#   BINS      folder of plant-server and plant-cli (default target/bench-release)
#   PASSES    passes over the configurations [2]; odd passes run 1, 2, 3 processes, even
#             ones 3, 2, 1
#   SECS      seconds per row [5]
#   INDEX     1: each row is followed by the indexer's catch-up (below) [1]; 0: a session holds
#             the vector turn (the advisory lock `plant-vt`, see plant-core's store/postgres/turn.rs)
#             for the whole run, so no server stores vectors and rows follow each other at once
#             (minutes instead of an hour; the writes are the same, their vectors wait)
#
# Each row starts after a CHECKPOINT, runs `wrk` with `bench/lua/post-skill.lua` (32
# connections split over the processes) for SECS, and is followed by the indexer's catch-up
# (every skill's vector stored) so that the next row does not share the machine with it.
# Prints per row the total rate, the highest p99, the changes per group-commit batch (the
# head's update count), the WAL written, and the CPU time per request of the three servers
# (all three: the idle ones follow the chain), of PostgreSQL's processes and of the whole
# machine (from /proc; a PostgreSQL process that exits during the row is not counted).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/write-setup.sh
. bench/write-setup.sh
SECS=${SECS:-5}
PORTS=(18091 18092 18093)
if [ "${INDEX:-1}" = 0 ]; then
  hold_vector_turn
fi
# shellcheck source=bench/cpu-ticks.sh
. bench/cpu-ticks.sh
postmaster=$(postmaster_pid)
tick=$(getconf CLK_TCK)
# µs of CPU per request: TICKS REQUESTS.
cpu() { awk -v t="$1" -v k="$tick" -v r="$2" 'BEGIN { if (r > 0) printf "%.0f", t / k * 1e6 / r; else print "?" }'; }
work=$(mktemp -d)
for pass in $(seq "${PASSES:-2}"); do
  for cfg in ${CONFIGS:-default:}; do
    name=${cfg%%:*}
    start_servers "$cfg" "${PORTS[@]}"
    line="pass $pass $name:"
    order="1 2 3"
    if [ $((pass % 2)) = 0 ]; then order="3 2 1"; fi
    for n in $order; do
      psql_ checkpoint >/dev/null
      b0=$(audit_batches)
      w0=$(psql_ "select pg_current_wal_lsn()")
      mapfile -t pg < <(pg_pids "$postmaster")
      s0=$(ticks_of "${PIDS[@]}"); g0=$(ticks_of "${pg[@]}"); m0=$(machine_ticks)
      post_skills "$n" "$SECS" "p$pass-$name" "$work" --latency
      # Backends opened during the row count from zero.
      mapfile -t pg < <(pg_pids "$postmaster")
      s1=$(ticks_of "${PIDS[@]}"); g1=$(ticks_of "${pg[@]}"); m1=$(machine_ticks)
      reqs=$(wrk_requests "$work")
      rate=$(cat "$work"/wrk-*.txt | awk '/Requests\/sec/ { r += $2 } END { printf "%.0f", r }')
      p99=$(cat "$work"/wrk-*.txt | awk '$1 == "99%" { print $2 }' | sort -h | tail -1)
      b1=$(audit_batches)
      wal=$(psql_ "select pg_wal_lsn_diff(pg_current_wal_lsn(), '$w0')")
      per=$(awk -v r="$rate" -v s="$SECS" -v b=$((b1 - b0)) 'BEGIN { if (b > 0) printf "%.1f", r * s / b; else print "?" }')
      line="$line  n$n $rate req/s (p99 $p99, ~$per per batch, wal $((${wal%.*} / 1048576)) MiB, CPU µs/request servers $(cpu $((s1 - s0)) "$reqs") postgres $(cpu $((g1 - g0)) "$reqs") machine $(cpu $((m1 - m0)) "$reqs"))"
      rm -f "$work"/wrk-*.txt
      if [ "${INDEX:-1}" != 0 ]; then
        while [ "$(psql_ 'select count(*) from skill where embedding is null')" != 0 ]; do sleep 0.5; done
      fi
    done
    echo "$line"
    stop_all
  done
done
rm -rf "$work"
