#!/usr/bin/env bash
# Load-tests a release plant-server on a migrated, seeded PostgreSQL database.
#
#   DATABASE_URL=postgres://… plant-server/bench/run.sh
#
# Prints the start-up time to the first 200 from /ready, RSS idle and under load, and wrk's
# req/s and latency percentiles (wrk -t2 -c32 -d15s) for GET /api/v1/agents,
# GET /api/v1/agents/{id} and POST /api/v1/genesis/skills. Needs wrk, curl and python3.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
: "${DATABASE_URL:?set DATABASE_URL to a migrated, seeded database}"
PORT=${BENCH_PORT:-18200}
BIN=${CARGO_TARGET_DIR:-target}/release/plant-server
cargo build --release -q -p plant-server
SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
TOKEN=$(SECRET=$SECRET python3 - <<'PY'
import base64, hashlib, hmac, json, os, time
b = lambda d: base64.urlsafe_b64encode(d).rstrip(b"=").decode()
head = b(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
body = b(json.dumps({"sub": "bench", "role": "genesis", "exp": int(time.time()) + 3600}).encode())
sig = b(hmac.new(os.environ["SECRET"].encode(), f"{head}.{body}".encode(), hashlib.sha256).digest())
print(f"{head}.{body}.{sig}")
PY
)
export TOKEN

start=$(date +%s%N)
PORT=$PORT RUST_LOG=warn LOG_FORMAT=json PLANT_JWT_SECRET=$SECRET "$BIN" 2>/dev/null &
PID=$!
trap 'kill $PID 2>/dev/null' EXIT
until [ "$(curl -s -o /dev/null -w '%{http_code}' "localhost:$PORT/ready")" = 200 ]; do sleep 0.005; done
echo "start-up to first 200: $(( ($(date +%s%N) - start) / 1000000 )) ms"
sleep 2
echo "RSS idle: $(awk '/VmRSS/ {print $2, $3}' /proc/$PID/status)"
AGENT=$(curl -s "localhost:$PORT/api/v1/agents?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')

run() {
  local name=$1; shift
  (sleep 10; echo "$name: RSS under load $(awk '/VmRSS/ {print $2, $3}' /proc/$PID/status)") &
  local sampler=$!
  echo "== $name (load average $(cut -d' ' -f1 /proc/loadavg), $(nproc) cores)"
  wrk -t2 -c32 -d15s --latency "$@" | grep -E 'Requests/sec|50%|99%|Non-2xx|Socket errors'
  wait "$sampler"
}
run "GET /api/v1/agents" "http://127.0.0.1:$PORT/api/v1/agents"
run "GET /api/v1/agents/{id}" "http://127.0.0.1:$PORT/api/v1/agents/$AGENT"
run "POST /api/v1/genesis/skills" -s plant-server/bench/post_skill.lua "http://127.0.0.1:$PORT"
