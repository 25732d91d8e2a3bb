#!/usr/bin/env bash
# The change feed's SSE figures against a release plant-server on the in-memory store:
# stream throughput (every entry from seq 0 to the head over one SSE connection, after wrk has
# written some thousands of skills) and fan-out (N live clients, one write, time until the last
# client has the entry).
#
#   bench/feed/run.sh        # BENCH_FEED_CLIENTS (100), BENCH_FEED_WRITE_SECONDS (10)
#
# Needs release binaries (cargo build --release -p plant-server -p plant-cli), wrk and python3.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
bin=${CARGO_TARGET_DIR:-$repo/target}/release
clients=${BENCH_FEED_CLIENTS:-100}
write_secs=${BENCH_FEED_WRITE_SECONDS:-10}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
PLANT_JWT_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
export PLANT_JWT_SECRET
env -u DATABASE_URL PORT="$port" PLANT_FEED_MAX_CLIENTS=$((clients + 10)) LOG_FORMAT=json \
  "$bin/plant-server" >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
operator=$("$bin/plant-cli" token --role operator)
genesis=$("$bin/plant-cli" token --role genesis)
BENCH_TOKEN=$genesis BENCH_TAG=feed wrk -t1 -c4 -d"${write_secs}s" -s bench/lua/post-skill.lua \
  "http://127.0.0.1:$port/api/v1/genesis/skills" >/dev/null
python3 bench/feed/sse.py throughput 127.0.0.1 "$port" "$operator"
python3 bench/feed/sse.py fanout 127.0.0.1 "$port" "$operator" "$genesis" "$clients"
