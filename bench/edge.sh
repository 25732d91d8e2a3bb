#!/usr/bin/env bash
# The layer stack's cost, on the in-memory store: each plant-server binary given, and the bare
# hyper handler of `plant-bench serve` answering the same bytes (the ceiling), measured in turn
# with `wrk -t2 -c32 --latency`, endpoint by endpoint, so every row's runs share the machine's
# moment. No PostgreSQL: the reads come from the seeded in-memory catalog.
#
#   bench/edge.sh [RUNS [SECONDS]] [NAME=BINARY ...]
#
# Defaults: 3 runs of 5 s, and new=target/bench-release/plant-server (build it first with
# `cargo build --profile bench-release --no-default-features -p plant-server -p plant-bench`).
# Prints one line per wrk run (run, endpoint, target, req/s) and, on stderr, the body sizes.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
RUNS=${1:-3}
SECS=${2:-5}
shift $(($# < 2 ? $# : 2))
[ $# -gt 0 ] || set -- "new=target/bench-release/plant-server"
DRIVER=target/bench-release/plant-bench
WORK=$(mktemp -d "${TMPDIR:-/tmp}/plant-edge.XXXXXX")
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_200() {
  for _ in $(seq 1 300); do
    curl -sf -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "no 200 from $1" >&2
  exit 1
}

declare -A PORT
NAMES=()
for spec in "$@"; do
  name=${spec%%=*}
  PORT[$name]=$(free_port)
  env PORT="${PORT[$name]}" LOG_FORMAT=json "${spec#*=}" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  NAMES+=("$name")
  wait_200 "http://127.0.0.1:${PORT[$name]}/health"
done
BASE="http://127.0.0.1:${PORT[${NAMES[0]}]}"
AGENT=$(curl -s "$BASE/api/v1/agents?limit=1" | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["id"])')
KEYS=(health agents agent skills job-roles search)
declare -A PATHS=(
  [health]=/health
  [agents]=/api/v1/agents
  [agent]="/api/v1/agents/$AGENT"
  [skills]=/api/v1/genesis/skills
  [job-roles]=/api/v1/genesis/job-roles
  [search]="/api/v1/search?q=billing%20support"
)
routes=()
for key in "${KEYS[@]}"; do
  curl -s -o "$WORK/body-$key" "$BASE${PATHS[$key]}"
  routes+=(--route "/ceiling/$key=$WORK/body-$key")
  printf '%s: %s bytes\n' "$key" "$(wc -c <"$WORK/body-$key")" >&2
done
CEILING=$(free_port)
"$DRIVER" serve --port "$CEILING" --max-seconds 3600 "${routes[@]}" >/dev/null 2>&1 &
PIDS+=($!)
wait_200 "http://127.0.0.1:$CEILING/ceiling/health"

rps() { wrk -t2 -c32 -d"${SECS}s" --latency "$1" 2>&1 | awk '/Requests\/sec/ { print $2 }'; }
printf 'run\tendpoint\ttarget\treq/s\n'
for run in $(seq 1 "$RUNS"); do
  for key in "${KEYS[@]}"; do
    for name in "${NAMES[@]}"; do
      printf '%s\t%s\t%s\t%s\n' "$run" "$key" "$name" "$(rps "http://127.0.0.1:${PORT[$name]}${PATHS[$key]}")"
    done
    printf '%s\t%s\t%s\t%s\n' "$run" "$key" ceiling "$(rps "http://127.0.0.1:$CEILING/ceiling/$key")"
  done
done
