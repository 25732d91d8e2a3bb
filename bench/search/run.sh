#!/usr/bin/env bash
# The search benchmark: synthetic catalogs, recall@10 of HNSW against exact search, search latency
# through the HTTP API at concurrency 1 and 16, and single-query embedding latency.
#
#   bench/search/run.sh
#
# Starts a throwaway PostgreSQL 16 + pgvector (scripts/test-db.sh), and for each embedder and size:
# loads the catalog (seed through the catalog, synthetic agents in bulk, HNSW index built as in
# migrations/0006), measures recall at each hnsw.ef_search, starts plant-server on 127.0.0.1 over
# that database and drives GET /api/v1/search?kind=agent&k=10 in each of BENCH_MODES. Results go to
# bench/search/results/<UTC time>.jsonl (one JSON object per measurement, the first one describes
# the machine and the commit).
#
# Environment:
#   BENCH_MINILM_SIZES    catalog sizes embedded with all-MiniLM-L6-v2 (default "10000"; "" for none)
#   BENCH_HASHING_SIZES   catalog sizes embedded with the hashing embedder (default "10000 100000")
#   BENCH_QUERIES         queries for recall and latency (default 200)
#   BENCH_EF_SEARCH       hnsw.ef_search values for recall (default "100,200,400,800")
#   BENCH_REQUESTS_C1     measured requests at concurrency 1 (default 400)
#   BENCH_REQUESTS_C16    measured requests at concurrency 16 (default 1600)
#   BENCH_HNSW_M, BENCH_HNSW_EF_CONSTRUCTION   index parameters (default 32 and 128, as migrated)
#   BENCH_MODES           search modes driven over HTTP (default "semantic hybrid")
#   PLANT_HNSW_EF_SEARCH  the server's hnsw.ef_search (default: the server's, 800)
#   PLANT_EMBED_MODEL_DIR the model directory (default: what scripts/fetch-model.sh prints)
#   CARGO_TARGET_DIR      as usual
#
# Agent vectors are cached in .cache/search-bench/ (MiniLM on a CPU is the slow part: about
# 15 texts/s on two busy cores); a second run reuses them.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
target=${CARGO_TARGET_DIR:-$repo/target}
driver="$target/release/plant-search-bench"
server="$target/release/plant-server"

if [ "${1:-}" != "--inside" ]; then
  cargo build --release -p plant-search-bench -p plant-server
  PLANT_EMBED_MODEL_DIR=${PLANT_EMBED_MODEL_DIR:-$(scripts/fetch-model.sh | tail -n 1)}
  export PLANT_EMBED_MODEL_DIR
  exec scripts/test-db.sh run -- "$0" --inside
fi

minilm_sizes=${BENCH_MINILM_SIZES-10000}
hashing_sizes=${BENCH_HASHING_SIZES-10000 100000}
queries=${BENCH_QUERIES:-200}
ef_search=${BENCH_EF_SEARCH:-100,200,400,800}
req_c1=${BENCH_REQUESTS_C1:-400}
req_c16=${BENCH_REQUESTS_C16:-1600}
hnsw_m=${BENCH_HNSW_M:-32}
hnsw_efc=${BENCH_HNSW_EF_CONSTRUCTION:-128}
modes=${BENCH_MODES-semantic hybrid}

mkdir -p bench/search/results
out="bench/search/results/$(date -u +%Y-%m-%dT%H%MZ).jsonl"
jq -cn --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  --arg commit "$(git rev-parse --short HEAD)" \
  --arg cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')" \
  --arg cores "$(nproc)" --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
  --arg kernel "$(uname -sr)" \
  '{step: "meta", date: $date, commit: $commit, cpu: $cpu, cores: $cores, load_avg: $load, kernel: $kernel}' |
  tee "$out"

server_pid=
stop_server() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
  fi
}
trap stop_server EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# bench EMBEDDER SIZE URL
bench() {
  local embedder=$1 size=$2 url=$3 port model_env=()
  "$driver" load --database-url "$url" --agents "$size" --embedder "$embedder" \
    --m "$hnsw_m" --ef-construction "$hnsw_efc" | tee -a "$out"
  "$driver" recall --database-url "$url" --embedder "$embedder" --queries "$queries" \
    --ef-search "$ef_search" --label "$embedder-$size" | tee -a "$out"

  port=$(free_port)
  [ "$embedder" = minilm ] && model_env=(PLANT_EMBED_MODEL_DIR="$PLANT_EMBED_MODEL_DIR")
  env -u PLANT_EMBED_MODEL_DIR "${model_env[@]}" PORT="$port" DATABASE_URL="$url" \
    RUST_LOG=warn LOG_FORMAT=json "$server" >"$target/search-bench-server.log" 2>&1 &
  server_pid=$!
  local i
  for i in $(seq 1 120); do
    curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    sleep 0.5
  done
  curl -fsS "http://127.0.0.1:$port/health" >/dev/null
  local mode
  for mode in $modes; do
    "$driver" http --addr "127.0.0.1:$port" --concurrency 1 --requests "$req_c1" --mode "$mode" \
      --queries "$queries" --label "$embedder-$size-$mode" | tee -a "$out"
    "$driver" http --addr "127.0.0.1:$port" --concurrency 16 --requests "$req_c16" --mode "$mode" \
      --queries "$queries" --label "$embedder-$size-$mode" | tee -a "$out"
  done
  stop_server
}

for size in $minilm_sizes; do
  "$driver" create-db --admin-url "$PLANT_TEST_ADMIN_URL" --name bench_minilm
  bench minilm "$size" "${PLANT_TEST_ADMIN_URL%/*}/bench_minilm"
done
for size in $hashing_sizes; do
  "$driver" create-db --admin-url "$PLANT_TEST_ADMIN_URL" --name bench_hashing
  bench hashing "$size" "${PLANT_TEST_ADMIN_URL%/*}/bench_hashing"
done
"$driver" embed-latency --embedder minilm --queries "$queries" | tee -a "$out"
echo "results: $out" >&2
