#!/usr/bin/env bash
# RSS of plant-server with the read model (the build in PLANT_BIN_DIR) and, when
# PLANT_BASELINE_SERVER names one, a build without it, idle and after 300 list pages, at the seed
# size, 10k and 100k agents (synthetic agents from bench/search's loader, hashing embedder).
set -u
# Run inside a throwaway database: scripts/test-db.sh run -- bench/read-model-rss.sh
# (after cargo build -p plant-server -p plant-cli -p plant-search-bench).
WORK=$(mktemp -d)
T=${PLANT_BIN_DIR:-target/debug}
MAIN=${PLANT_BASELINE_SERVER:-}
secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
rss() { awk '$1 == "VmRSS:" { print $2 }' /proc/$1/status; }
measure() {
  local label=$1 bin=$2 port=$3 pid
  PORT=$port PLANT_JWT_SECRET=$secret "$bin" > "$WORK/server-$label.log" 2>&1 &
  pid=$!
  for i in $(seq 1 300); do curl -s -o /dev/null "http://127.0.0.1:$port/health" && break; sleep 0.2; done
  sleep 2
  local idle; idle=$(rss $pid)
  for i in $(seq 1 300); do curl -s -o /dev/null "http://127.0.0.1:$port/api/v1/agents?limit=100&offset=$((i * 30))"; done
  echo "$label: idle ${idle} KiB, after 300 list pages $(rss $pid) KiB"
  kill $pid; wait $pid 2>/dev/null
}
for n in 0 10000 100000; do
  if [ "$n" = 0 ]; then
    $T/plant-cli migrate >/dev/null 2>&1; $T/plant-cli seed >/dev/null 2>&1
  else
    $T/plant-search-bench load --agents $n --embedder hashing --cache-dir .cache/search-bench > "$WORK/load-$n.log" 2>&1 || { echo "load $n failed"; tail -5 "$WORK/load-$n.log"; }
  fi
  measure "model-$n" $T/plant-server 18641
  if [ -n "$MAIN" ]; then measure "main-$n" "$MAIN" 18642; fi
done
