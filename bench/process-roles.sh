#!/usr/bin/env bash
# Where the CPU of audited writes goes at one and at three plant-server processes on one durable
# PostgreSQL: the CPU time (user + system, from /proc) of every PostgreSQL backend, grouped by
# the statement it ran most often during the row, and of every server thread, grouped by the
# thread's name, each per request.
#
#   PLANT_TEST_DB_DURABLE=1 scripts/test-db.sh run -- bench/process-roles.sh
#
# Environment:
#   BINS      folder of plant-server and plant-cli (default target/bench-release)
#   ORDER     the process counts of the rows, in order [1 3 1 3]
#   SECS      seconds per row [6]
#
# As in bench/processes.sh: three servers run in every row (the idle ones follow the chain),
# each row starts after a CHECKPOINT and runs `wrk` with `bench/lua/post-skill.lua` (32
# connections split over the processes), and a session holds the vector turn for the whole
# run, so that no server stores vectors. `pg_stat_activity` is sampled every 200 ms to learn
# what each backend runs; a backend never seen running a statement counts as "(not sampled)".
# The appenders' backends show as `with s0 as (insert into audit_log …`, the read models'
# reads of the chain as `select seq, entity_id, …`, the listeners as `LISTEN "plant_audit"`.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/write-setup.sh
. bench/write-setup.sh
hold_vector_turn
SECS=${SECS:-6}
PORTS=(18097 18098 18099)
start_servers "default:" "${PORTS[@]}"
# shellcheck source=bench/cpu-ticks.sh
. bench/cpu-ticks.sh
postmaster=$(postmaster_pid)
work=$(mktemp -d)
# "PID TICKS" of every PostgreSQL process.
backend_ticks() {
  local p
  for p in $(pg_pids "$postmaster"); do echo "$p $(ticks_of "$p")"; done
}
# "PID/TID NAME TICKS" of every server thread.
thread_ticks() {
  local s t
  for s in "${PIDS[@]}"; do
    for t in /proc/"$s"/task/*; do
      echo "$s/${t##*/} $(tr ' ' '_' <"$t/comm") $(ticks_of "$s/task/${t##*/}")"
    done
  done
}
for n in ${ORDER:-1 3 1 3}; do
  psql_ checkpoint >/dev/null
  b0=$(audit_batches)
  backend_ticks >"$work/pg0"
  thread_ticks >"$work/th0"
  : >"$work/activity"
  (
    end=$((SECONDS + SECS))
    while [ $SECONDS -lt $end ]; do
      psql_ "select pid, left(regexp_replace(query, '\s+', ' ', 'g'), 30) from pg_stat_activity
        where backend_type = 'client backend' and pid <> pg_backend_pid()" >>"$work/activity"
      sleep 0.2
    done
  ) &
  sampler=$!
  post_skills "$n" "$SECS" roles "$work"
  wait "$sampler" || true
  backend_ticks >"$work/pg1"
  thread_ticks >"$work/th1"
  reqs=$(wrk_requests "$work")
  rm -f "$work"/wrk-*.txt
  b1=$(audit_batches)
  echo "n$n: $((reqs / SECS)) req/s, $(awk -v r="$reqs" -v b=$((b1 - b0)) 'BEGIN { if (b > 0) printf "%.1f", r / b; else print "?" }') changes a batch"
  python3 - "$work" "$reqs" "$(getconf CLK_TCK)" <<'PY'
import collections, sys

work, reqs, tick = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])


def per_request(ticks):
    return ticks / tick * 1e6 / max(reqs, 1)


def ticks(path):
    out = {}
    for line in open(path):
        fields = line.split()
        out[fields[0]] = (" ".join(fields[1:-1]), int(fields[-1]))
    return out


seen = collections.defaultdict(collections.Counter)
for line in open(f"{work}/activity"):
    pid, _, query = line.rstrip("\n").partition("|")
    if query:
        seen[pid][query] += 1
before, after = ticks(f"{work}/pg0"), ticks(f"{work}/pg1")
roles = collections.Counter()
for pid, (_, t) in after.items():
    role = seen[pid].most_common(1)[0][0] if seen[pid] else "(not sampled)"
    roles[role] += t - before.get(pid, ("", 0))[1]
print(f"  postgres {per_request(sum(roles.values())):.0f} µs/request")
for role, t in roles.most_common():
    if per_request(t) >= 1:
        print(f"    {per_request(t):5.0f}  {role}")
before, after = ticks(f"{work}/th0"), ticks(f"{work}/th1")
names = collections.Counter()
for tid, (name, t) in after.items():
    names[name] += t - before.get(tid, (name, 0))[1]
print(f"  servers {per_request(sum(names.values())):.0f} µs/request")
for name, t in names.most_common():
    if per_request(t) >= 1:
        print(f"    {per_request(t):5.0f}  {name}")
PY
done
rm -rf "$work"
