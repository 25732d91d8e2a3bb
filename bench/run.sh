#!/usr/bin/env bash
# plant's benchmark, in one run: plant-server on PostgreSQL under wrk, beside its ceilings.
#
#   bench/run.sh
#
# Installs wrk when missing (apt-get), builds the binaries (profile bench-release), starts a throwaway PostgreSQL
# (scripts/test-db.sh with PLANT_TEST_DB_DURABLE=1: PostgreSQL's durable defaults, fsync,
# synchronous_commit and full_page_writes on, so every write counted is flushed; the tests' fast
# settings are not used here), migrates and seeds it (plant-cli), then measures every endpoint with
# `wrk -t2 -c32 --latency` and `-t1 -c1`, the HTTP ceiling (a bare hyper handler answering the
# same bytes), the database ceiling (the same store calls without HTTP, same pool size), RSS,
# start-up time, the SQL ceilings of the chain append (pgbench, bench/pgbench/: one and ten
# entries per transaction), and the audited-write load over 1, 2 and 3 server processes. Writes
# bench/results/<date>-<commit>.{md,svg,tsv} and bench/results/latest.{md,svg}.
#
# Environment (defaults in brackets):
#   BENCH_SECONDS [15]          duration of each -c32 run of the server
#   BENCH_RUNS [3]              runs per measurement; the table shows the median (start-up: five)
#   BENCH_C1_SECONDS [1]        duration of each -c1 run
#   BENCH_CEILING_SECONDS [BENCH_SECONDS]  duration of each HTTP-ceiling run (-c32); the same as
#                               the server's runs, so that a ratio compares like with like
#   BENCH_DB_SECONDS [BENCH_SECONDS]       duration of each database-ceiling loop
#   BENCH_SCALE_SECONDS [5]     duration of each run of the 1/2/3-process write load
#   BENCH_MINILM_WRITE_SECONDS [3]  duration of the one run of skill creates with MiniLM loaded
#   BENCH_PGBENCH_SECONDS [30]  duration of each pgbench ceiling run
#   BENCH_WARMUP_SECONDS [1]    warm-up per endpoint before measuring
#   BENCH_POOL [10]             the server's PostgreSQL pool (PLANT_DB_POOL_SIZE), and the loop's
#   BENCH_MINILM [auto]         auto: measure MiniLM search when the model is already on disk
#                               (PLANT_EMBED_MODEL_DIR, or what scripts/fetch-model.sh fetched before,
#                               as ./scripts/test.sh does); 1: fetch it if needed and measure;
#                               0: skip. Without MiniLM the binaries are built without the
#                               `minilm` feature (no candle, no tokenizers): half the build time.
#   BENCH_OUT [bench/results]   where results go
#   CARGO_TARGET_DIR            honoured for the build
#
# Traffic goes only to 127.0.0.1. Every process started here is stopped on exit.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

SECONDS_PER_RUN=${BENCH_SECONDS:-15}
RUNS=${BENCH_RUNS:-3}
C1_SECONDS=${BENCH_C1_SECONDS:-1}
CEILING_SECONDS=${BENCH_CEILING_SECONDS:-$SECONDS_PER_RUN}
DB_SECONDS=${BENCH_DB_SECONDS:-$SECONDS_PER_RUN}
SCALE_SECONDS=${BENCH_SCALE_SECONDS:-5}
MINILM_WRITE_SECONDS=${BENCH_MINILM_WRITE_SECONDS:-3}
WARMUP_SECONDS=${BENCH_WARMUP_SECONDS:-1}
POOL=${BENCH_POOL:-10}
OUT=${BENCH_OUT:-$REPO/bench/results}
SEARCH_TEXT="data pipeline engineer"
SEARCH_QUERY="q=data%20pipeline%20engineer"

note() { echo "bench: $*" >&2; }
die() {
  echo "bench: error: $*" >&2
  exit 1
}

# ---------------------------------------------------------------------------------------------
# Outer half: tools, binaries, model; then the inner half runs inside a throwaway PostgreSQL.
# ---------------------------------------------------------------------------------------------
if [ -z "${PLANT_BENCH_INNER:-}" ]; then
  if ! command -v wrk >/dev/null 2>&1; then
    note "installing wrk"
    if [ "$(id -u)" -eq 0 ]; then
      apt-get update -qq && apt-get install -y -qq wrk >/dev/null
    else
      sudo apt-get update -qq && sudo apt-get install -y -qq wrk >/dev/null
    fi
  fi
  for tool in curl python3 cargo; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is needed"
  done
  build_started=$(date +%s)
  # auto: MiniLM when its three files are on disk already (where fetch-model.sh puts them).
  minilm=${BENCH_MINILM:-auto}
  if [ "$minilm" = auto ]; then
    minilm=1
    for f in config.json tokenizer.json model.safetensors; do
      [ -s "${PLANT_EMBED_MODEL_DIR:-${PLANT_CACHE_DIR:-$REPO/.cache}/minilm}/$f" ] || minilm=0
    done
  fi
  # The model (when wanted) and PostgreSQL are fetched and installed while the binaries build.
  model_log=$(mktemp "${TMPDIR:-/tmp}/plant-bench-model.XXXXXX")
  model_pid=""
  features=(--no-default-features)
  if [ "$minilm" != "0" ]; then
    features=()
    if [ -n "${PLANT_EMBED_MODEL_DIR:-}" ]; then
      echo "$PLANT_EMBED_MODEL_DIR" >"$model_log"
    else
      scripts/fetch-model.sh >"$model_log" 2>&1 &
      model_pid=$!
    fi
  else
    note "no MiniLM model on disk (BENCH_MINILM=1 fetches it): MiniLM search is not measured"
  fi
  db_log=$(mktemp "${TMPDIR:-/tmp}/plant-bench-db.XXXXXX")
  scripts/test-db.sh install >"$db_log" 2>&1 &
  db_pid=$!
  note "building the binaries (profile bench-release: release without LTO${features:+, without MiniLM})"
  cargo build --profile bench-release --locked "${features[@]}" -p plant-server -p plant-cli -p plant-bench >&2
  if ! wait "$db_pid"; then
    cat "$db_log" >&2
    die "installing PostgreSQL failed"
  fi
  rm -f "$db_log"
  export BENCH_BUILD_SECONDS=$(($(date +%s) - build_started))
  export BENCH_BIN_DIR="${CARGO_TARGET_DIR:-$REPO/target}/bench-release"
  export BENCH_MODEL_DIR=""
  if [ "$minilm" != "0" ]; then
    if { [ -z "$model_pid" ] || wait "$model_pid"; } && model_dir=$(tail -n 1 "$model_log") && [ -d "$model_dir" ]; then
      BENCH_MODEL_DIR=$model_dir
    else
      cat "$model_log" >&2
      die "the MiniLM model could not be fetched (BENCH_MINILM=0 skips it)"
    fi
  fi
  rm -f "$model_log"
  export BENCH_STARTED=$build_started
  export PLANT_BENCH_INNER=1
  # PostgreSQL's durable defaults: a write is counted only once its commit is flushed.
  export PLANT_TEST_DB_DURABLE=1
  exec scripts/test-db.sh run -- bash "$REPO/bench/run.sh"
fi

# ---------------------------------------------------------------------------------------------
# Inner half: DATABASE_URL names a fresh, empty database.
# ---------------------------------------------------------------------------------------------
: "${DATABASE_URL:?run bench/run.sh, not this half on its own}"
BIN=$BENCH_BIN_DIR
SERVER=$BIN/plant-server
CLI=$BIN/plant-cli
DRIVER=$BIN/plant-bench
WORK=$(mktemp -d "${TMPDIR:-/tmp}/plant-bench.XXXXXX")
RECORDED=$WORK/recorded.tsv
PIDS=()

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    # A server paused for a store loop (see write_ceiling) must run again to act on the TERM.
    kill -CONT "$pid" 2>/dev/null || true
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  # A run that stops before its report keeps what it measured: its rows so far, as a stopped
  # run's TSV and report beside the complete runs' (the stop's reason is on stderr).
  if [ -z "${REPORTED:-}" ] && [ -s "$RECORDED" ] && [ -n "${STAMP:-}" ]; then
    write_report "$STAMP-$COMMIT-stopped" >&2 || true
    echo "bench: the run stopped; its rows so far are in $OUT/$STAMP-$COMMIT-stopped.{tsv,md}" >&2
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# write_report NAME: the recorded rows as $OUT/NAME.tsv, and their report as NAME.md and NAME.svg.
write_report() {
  mkdir -p "$OUT"
  cp "$RECORDED" "$OUT/$1.tsv"
  "$DRIVER" report --recorded "$RECORDED" --markdown "$OUT/$1.md" --svg "$OUT/$1.svg" --svg-link "$1.svg"
}
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

meta() { printf 'meta\t%s\t%s\n' "$1" "$2" >>"$RECORDED"; }

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

rss_kib() { awk -v field="$2" '$1 == field":" { print $2 }' "/proc/$1/status"; }

# wait_200 URL [SECONDS]: waits until GET URL answers 200, for at most SECONDS (30).
wait_200() {
  local url=$1 secs=${2:-30} i
  for i in $(seq 1 $((secs * 20))); do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' "$url" || true)" = "200" ]; then
      return 0
    fi
    sleep 0.05
  done
  die "no 200 from $url within $secs s"
}

# start_server PORT [VAR=VALUE...]: plant-server on PostgreSQL in the background; sets SERVER_PID.
# One trusted proxy hop: wrk's trial bookings each name their client in X-Forwarded-For, as
# bookings from many customers arriving through one load balancer would.
start_server() {
  local port=$1
  shift
  env PORT="$port" PLANT_DB_POOL_SIZE="$POOL" PLANT_FORWARDED_HOPS=1 LOG_FORMAT=json "$@" "$SERVER" >/dev/null 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  wait_200 "http://127.0.0.1:$port/health" "${START_WAIT:-30}"
}

stop_pid() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# sql STATEMENT: one statement on the benchmark's database, its rows unaligned and bare.
sql() {
  "$PLANT_PG_BIN/psql" --no-psqlrc -XAtq "$DATABASE_URL" -c "$1"
}

# checkpoint_db: a CHECKPOINT, before every timed write row (HTTP, store loop, pgbench, process
# counts), so that each starts at the same point of PostgreSQL's checkpoint cycle. Left alone, a
# timed checkpoint (every 5 minutes, spread over the next 4.5) starts at a random moment of some
# rows and not of others, and after it every page a row touches first is written whole to the WAL
# (full_page_writes) while the checkpointer writes beside it. The defaults stay as they are.
checkpoint_db() {
  sql checkpoint >/dev/null 2>&1 ||
    note "CHECKPOINT failed; the next row starts wherever the checkpoint cycle is"
}

# settle_db: before every timed write run, a VACUUM (ANALYZE) and then a CHECKPOINT. Storing the
# vectors of the skills a row wrote leaves as many dead row versions; left to autovacuum, their
# cleanup started at a random moment of some later run (at `7c751a7` the first store loop after a
# skills row ran at 1,706 ops/s, the next two at 2,299 and 2,204), so each run now starts with
# none, at the same point of the checkpoint cycle.
settle_db() {
  local started=$SECONDS
  if sql "vacuum (analyze)" >/dev/null 2>&1; then
    note "vacuum: $((SECONDS - started)) s"
  else
    note "VACUUM failed; the next row starts with what autovacuum left"
  fi
  checkpoint_db
}

# model_caught_up: waits until the server's read model has folded the whole chain (a write row's
# store loop appends while the server is paused; the server reads those entries back when it
# resumes, and that must not fall inside its own next run).
model_caught_up() {
  local head
  head=$(sql "select coalesce(max(seq), 0) from audit_log") || return 0
  wait_200 "$BASE/api/v1/genesis/skills?limit=1&min_seq=$head"
}

# measure SCENARIO ENDPOINT THREADS CONNECTIONS SECONDS URL [wrk args...]: one wrk run, recorded;
# a write row's (ENDPOINT post-*) after settle_db.
measure() {
  local scenario=$1 endpoint=$2 threads=$3 conns=$4 secs=$5 url=$6
  shift 6
  local raw="$WORK/wrk-$scenario-$endpoint-$RANDOM.txt" line
  if [[ $endpoint == post-* ]]; then settle_db; fi
  BENCH_TAG="$scenario-$endpoint-$RANDOM$RANDOM" wrk -t"$threads" -c"$conns" -d"${secs}s" --latency "$@" "$url" >"$raw" 2>&1 || true
  if line=$("$DRIVER" wrk-parse <"$raw"); then
    printf 'run\t%s\t%s\t%s\n' "$scenario" "$endpoint" "$line" >>"$RECORDED"
    note "$scenario $endpoint: $(cut -f1 <<<"$line") req/s, p99 $(cut -f3 <<<"$line") ms, errors $(cut -f5 <<<"$line")"
  else
    note "$scenario $endpoint: wrk gave no summary:"
    cat "$raw" >&2
  fi
}

# db_ceiling OP [RUNS [KEY [driver args...]]]: the store loop, recorded under scenario db as KEY
# (default OP).
db_ceiling() {
  local op=$1 runs=${2:-$RUNS} key=${3:-$1} run line
  shift $(($# < 3 ? $# : 3))
  for run in $(seq 1 "$runs"); do
    if [[ $op == post-* ]]; then settle_db; fi
    if line=$("$DRIVER" db --op "$op" --pool "$POOL" --concurrency 32 --seconds "$DB_SECONDS" --search-text "$SEARCH_TEXT" "$@"); then
      printf 'run\tdb\t%s\t%s\n' "$key" "$line" >>"$RECORDED"
      note "db $key: $(cut -f1 <<<"$line") ops/s, p99 $(cut -f3 <<<"$line") ms"
    fi
  done
}

# The endpoints: key, path, and what wrk needs beyond the URL.
declare -A PATHS ARGS
endpoint_table() {
  PATHS=(
    [health]="/health"
    [agents]="/api/v1/agents"
    [agents-50]="/api/v1/agents?limit=50"
    [agents-304]="/api/v1/agents?limit=50"
    [agent]="/api/v1/agents/$AGENT_ID"
    [agent-304]="/api/v1/agents/$AGENT_ID"
    [skills]="/api/v1/genesis/skills"
    [job-roles]="/api/v1/genesis/job-roles"
    [audit-export]="/api/v1/audit/export"
    [search]="/api/v1/search?$SEARCH_QUERY"
    [post-skill]="/api/v1/genesis/skills"
    [post-trial]="/api/v1/trials"
  )
  ARGS=(
    [audit-export]="-H|Authorization: Bearer $OPERATOR_TOKEN"
    [agents-304]="-H|If-None-Match: ${AGENTS_ETAG:-}"
    [agent-304]="-H|If-None-Match: ${AGENT_ETAG:-}"
    [post-skill]="-s|$REPO/bench/lua/post-skill.lua"
    [post-trial]="-s|$REPO/bench/lua/post-trial.lua"
  )
}

# load_endpoint BASE KEY [SCENARIO [COMMAND...]]: warm up, then RUNS runs at -c32 (each followed by
# COMMAND, when given: the row's ceilings, so that both sides of a ratio are measured in the same
# minute and database state), then RUNS runs at -c1.
load_endpoint() {
  local base=$1 key=$2 name=${3:-$2} url extra=() run
  shift $(($# < 3 ? $# : 3))
  url="$base${PATHS[$key]}"
  if [ -n "${ARGS[$key]:-}" ]; then
    IFS='|' read -r -a extra <<<"${ARGS[$key]}"
  fi
  BENCH_TAG="warm-$name-$RANDOM" wrk -t2 -c32 -d"${WARMUP_SECONDS}s" "${extra[@]}" "$url" >/dev/null 2>&1 || true
  for run in $(seq 1 "$RUNS"); do
    # A write row grows the tables it writes, so the later of two runs meets a larger database:
    # its ceilings go second in odd runs and first in even ones, so that the growth does not
    # always fall on the same side of its ratio.
    if (($# > 0)) && [[ $key == post-* ]] && ((run % 2 == 0)); then
      "$@"
      measure c32 "$name" 2 32 "$SECONDS_PER_RUN" "$url" "${extra[@]}"
      # What the ceilings do first after a server run: its skills' vectors stored, untimed.
      if [ "$key" = post-skill ]; then vectors_caught_up "$key"; fi
    else
      measure c32 "$name" 2 32 "$SECONDS_PER_RUN" "$url" "${extra[@]}"
      if (($# > 0)); then "$@"; fi
    fi
  done
  for run in $(seq 1 "$RUNS"); do
    measure c1 "$name" 1 1 "$C1_SECONDS" "$url" "${extra[@]}"
  done
}

# verify_chain SCENARIO: `plant-cli verify` on the whole chain and every row, recorded. It reads
# one snapshot (a repeatable-read transaction), so commits still landing from requests wrk cut
# when it stopped are either wholly in it or not at all.
verify_chain() {
  if "$CLI" verify >"$WORK/verify-$1.txt" 2>/dev/null; then
    printf 'verify\t%s\tok: %s\n' "$1" "$(tail -n 1 "$WORK/verify-$1.txt" | cut -c1-60)" >>"$RECORDED"
  else
    printf 'verify\t%s\tFAILED: %s\n' "$1" "$(tail -n 1 "$WORK/verify-$1.txt")" >>"$RECORDED"
  fi
}
# vectors_caught_up SCENARIO: vectors follow the commit, so skills written by a row may still
# lack theirs when it ends. Waits (up to 600 s) until every skill has one, so the indexer's
# catch-up does not load the next row, and records how many were missing and how long it took.
vectors_caught_up() {
  local missing start left
  missing=$(sql "select count(*) from skill where embedding is null")
  start=$(date +%s.%N)
  left=$missing
  while [ "$left" -gt 0 ] && awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN { exit !(n - s < 600) }'; do
    sleep 0.5
    left=$(sql "select count(*) from skill where embedding is null")
  done
  meta "vectors_$1" "$missing skills without a vector when the row ended; $left after $(awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN { printf "%.1f", n - s }') s"
}

# pause_server PID: SIGSTOP, but never inside one of the server's transactions. A server stopped
# while its indexer held the rows of a vector update open ("idle in transaction") left the store
# loop's indexer waiting on those rows until the server resumed: in the run at `4399ff6` the
# third skill loop waited 20 minutes on a machine at rest. Checked after the stop, so that
# nothing starts between the check and the pause; on a busy answer the server runs on a moment
# and is stopped again.
pause_server() {
  local i busy
  for i in $(seq 1 200); do
    kill -STOP "$1"
    busy=$(sql "select count(*) from pg_stat_activity where application_name = 'plant' and state <> 'idle'") || busy=0
    [ "$busy" = 0 ] && return 0
    kill -CONT "$1"
    sleep 0.05
  done
  note "the server stayed inside a transaction through 200 tries; paused inside one"
  kill -STOP "$1"
}

# -- database, tokens ---------------------------------------------------------------------------
note "migrating and seeding"
"$CLI" migrate >&2
"$CLI" seed >&2
PLANT_JWT_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
export PLANT_JWT_SECRET
GENESIS_TOKEN=$("$CLI" token --role genesis --ttl 14400 | tail -n 1)
OPERATOR_TOKEN=$("$CLI" token --role operator --ttl 14400 | tail -n 1)

COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
  COMMIT="$COMMIT-dirty"
fi
STAMP=$(date -u +%Y-%m-%dT%H%MZ)
meta date "$(date -u '+%Y-%m-%d %H:%M UTC')"
meta commit "$COMMIT"
meta nproc "$(nproc)"
meta cpu "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
meta kernel "$(uname -sr)"
meta mem_mib "$(awk '/^MemTotal/ { print int($2 / 1024) }' /proc/meminfo)"
meta postgres "16 with pgvector, durable defaults (fsync, synchronous_commit, full_page_writes on)"
meta seconds "$SECONDS_PER_RUN"
meta runs "$RUNS"
meta c1_seconds "$C1_SECONDS"
meta ceiling_seconds "$CEILING_SECONDS"
meta db_seconds "$DB_SECONDS"
meta scale_seconds "$SCALE_SECONDS"
meta pool "$POOL"
meta build_seconds "${BENCH_BUILD_SECONDS:-n/a}"
meta command "bench/run.sh"

# -- start-up time ------------------------------------------------------------------------------
note "start-up time"
# The median of five starts after one discarded start: the first exec of a freshly built binary
# faults its pages in from disk (18-87 ms spread seen here), which is the disk, not the server.
startup_ms() {
  local port run ms
  for run in 0 1 2 3 4 5; do
    port=$(free_port)
    ms=$(env "$@" PORT="$port" PLANT_DB_POOL_SIZE="$POOL" LOG_FORMAT=json \
      "$DRIVER" startup --addr "127.0.0.1:$port" -- "$SERVER")
    if ((run > 0)); then echo "$ms"; fi
  done | median
}
meta startup_memory_ms "$(startup_ms -u DATABASE_URL)"
meta startup_pg_ms "$(startup_ms)"

# -- the server ---------------------------------------------------------------------------------
PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"
start_server "$PORT"
MAIN_PID=$SERVER_PID
sleep 1
meta rss_idle_kib "$(rss_kib "$MAIN_PID" VmRSS)"
AGENT_ID=$(curl -s "$BASE/api/v1/agents?limit=1" | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["id"])')
export BENCH_TOKEN=$GENESIS_TOKEN BENCH_AGENT_ID=$AGENT_ID
# The tags the 304 rows send back: nothing is written until the reads are measured, so they
# stay current.
etag_of() { curl -s -o /dev/null -D - "$1" | awk 'tolower($1) == "etag:" { sub(/\r$/, ""); sub(/^[^:]*: */, ""); print }'; }
AGENTS_ETAG=$(etag_of "$BASE/api/v1/agents?limit=50")
AGENT_ETAG=$(etag_of "$BASE/api/v1/agents/$AGENT_ID")
[ -n "$AGENTS_ETAG" ] && [ -n "$AGENT_ETAG" ] || die "the server sent no ETag for the 304 rows"
endpoint_table

READS=(health agents agents-50 agents-304 agent agent-304 skills job-roles audit-export search)
# The store-loop operation that bounds each read (none for /health and the list's 304, which
# answer before any store call). Lists and single entities have none either: their answer is
# kept while the model stays at its seq, so under a read load the handler makes no store call
# (an entity's 304 is its kept answer's ETag). The agents list's loop still runs (what building
# a page costs, for "where the agents list spends its time"), not as a ceiling.
declare -A DB_OP=([agents]=agents [audit-export]=audit-export [search]=search)

# -- HTTP ceiling: the same bytes from a bare hyper handler -------------------------------------
# Each endpoint's answer, captured whole (status, headers and body, asked for with the row's own
# request headers, so a 304 row's ceiling answers 304) and replayed under a path of its own:
# several rows share a server path.
routes=()
for key in "${READS[@]}"; do
  headers=()
  if [ -n "${ARGS[$key]:-}" ] && [[ "${ARGS[$key]}" == -H\|* ]]; then
    headers=(-H "${ARGS[$key]#-H|}")
  fi
  curl -si "${headers[@]}" -o "$WORK/answer-$key" "$BASE${PATHS[$key]}"
  routes+=(--route "/ceiling/$key=$WORK/answer-$key")
done
CEILING_PORT=$(free_port)
"$DRIVER" serve --port "$CEILING_PORT" --max-seconds 3600 "${routes[@]}" &
CEILING_PID=$!
PIDS+=("$CEILING_PID")
wait_200 "http://127.0.0.1:$CEILING_PORT/ceiling/health"

# -- the reads, each run beside its ceilings ----------------------------------------------------
# Run by run, interleaved: the server, then the HTTP ceiling, then the store loop. Measured one
# block after another (every server row, then every ceiling), the two sides of a ratio were
# minutes apart, and the database's state (plans, caches, autovacuum) drifted between them: a
# search row once ran at 132% of a store loop measured nine minutes later.
# read_ceilings KEY: one run of the HTTP ceiling of KEY, then one of its store loop (if any).
read_ceilings() {
  measure http "$1" 2 32 "$CEILING_SECONDS" "http://127.0.0.1:$CEILING_PORT/ceiling/$1"
  if [ -n "${DB_OP[$1]:-}" ]; then
    db_ceiling "${DB_OP[$1]}" 1
  fi
}
for key in "${READS[@]}"; do
  load_endpoint "$BASE" "$key" "$key" read_ceilings "$key"
done
stop_pid "$CEILING_PID"
# What the "where the time goes" tables add: one run each.
for op in agents-jsonb agents-served agents-columns audit-export-served; do
  db_ceiling "$op" 1
done

# -- MiniLM search (a second server, after re-embedding the catalog with the model) -------------
if [ -n "${BENCH_MODEL_DIR:-}" ]; then
  note "MiniLM search"
  PLANT_EMBED_MODEL_DIR=$BENCH_MODEL_DIR "$CLI" embed >&2
  MINILM_PORT=$(free_port)
  MINILM_METRICS=$(free_port)
  start_server "$MINILM_PORT" PLANT_EMBED_MODEL_DIR="$BENCH_MODEL_DIR" PLANT_METRICS_PORT="$MINILM_METRICS"
  MINILM_PID=$SERVER_PID
  sleep 1
  meta rss_minilm_kib "$(rss_kib "$MINILM_PID" VmRSS)"
  # Its database ceiling, run by run: what the handler does without HTTP, the query embedded with
  # the model on every call, then the same SQL, over the same vectors (the catalog's, by MiniLM).
  load_endpoint "http://127.0.0.1:$MINILM_PORT" search search-minilm \
    db_ceiling search-embedded 1 search-minilm --embed-model-dir "$BENCH_MODEL_DIR"
  # Skill creates with the model loaded: one run, then the wait until every skill has its vector,
  # and the lag (commit to stored vector) and memory the server reports.
  note "skill creates with MiniLM loaded"
  measure minilm post-skill 2 32 "$MINILM_WRITE_SECONDS" "http://127.0.0.1:$MINILM_PORT${PATHS[post-skill]}" \
    -s "$REPO/bench/lua/post-skill.lua"
  verify_chain minilm
  vectors_caught_up minilm
  meta vector_lag_minilm "$(curl -s "http://127.0.0.1:$MINILM_METRICS/metrics" | awk '
    /^plant_vector_lag_seconds\{quantile="0.5"\}/ { p50 = $2 }
    /^plant_vector_lag_seconds\{quantile="0.99"\}/ { p99 = $2 }
    /^plant_vector_lag_seconds\{quantile="1"\}/ { max = $2 }
    /^plant_vector_lag_samples / { n = $2 }
    END { if (n) printf "p50 %.1f s, p99 %.1f s, max %.1f s over the newest %d vectors", p50, p99, max, n; else print "n/a" }')"
  meta rss_minilm_peak_kib "$(rss_kib "$MINILM_PID" VmHWM)"
  stop_pid "$MINILM_PID"
  # Back to the main server's model, untimed, so that its sweeps do not re-embed these later.
  "$CLI" embed >&2
fi

# -- SQL ceilings of the chain append (pgbench) -------------------------------------------------
# pgbench_ceiling ENTRIES: 32 clients run bench/pgbench/append-ENTRIES.sql (the head row taken
# `for update`, ENTRIES ~600-byte entries appended, one commit) for PGBENCH_SECONDS; recorded as
# transactions/s with the p50 and p99 of the per-transaction latencies pgbench logged.
PGBENCH_SECONDS=${BENCH_PGBENCH_SECONDS:-30}
pgbench_ceiling() {
  local entries=$1 out logs="$WORK/pgbench-$1" tps failed lat
  mkdir -p "$logs"
  checkpoint_db
  out=$( (cd "$logs" && "$PLANT_PG_BIN/pgbench" -n -M prepared -c 32 -j 2 -T "$PGBENCH_SECONDS" -l \
    -f "$REPO/bench/pgbench/append-$entries.sql" "$DATABASE_URL") 2>&1) || {
    note "pgbench append-$entries failed: $out"
    return 0
  }
  tps=$(awk '/^tps = / { print $3; exit }' <<<"$out")
  failed=$(awk '/^number of failed transactions/ { print $5; exit }' <<<"$out")
  # Per-transaction log: client, transaction, latency in microseconds, ...
  lat=$(cat "$logs"/pgbench_log.* | awk '{ print $3 / 1000 }' | sort -g |
    awk '{ v[NR] = $1 } END { i = int(NR * 0.99); if (i < 1) i = 1; if (NR) printf "%.3f\t%.3f\t%d", v[int((NR + 1) / 2)], v[i], NR }')
  printf 'run\tpgbench\tappend-%s\t%s\t%s\t%s\n' "$entries" "$tps" "$lat" "${failed:-0}" >>"$RECORDED"
  note "pgbench append-$entries: $tps transactions/s ($entries entries each)"
}
note "SQL ceilings of the chain append (pgbench)"
[ -x "${PLANT_PG_BIN:-}/pgbench" ] || die "pgbench is missing from PostgreSQL's folder (${PLANT_PG_BIN:-PLANT_PG_BIN unset})"
meta pgbench_seconds "$PGBENCH_SECONDS"
"$PLANT_PG_BIN/psql" --no-psqlrc --quiet -v ON_ERROR_STOP=1 "$DATABASE_URL" -f "$REPO/bench/pgbench/setup.sql" >/dev/null 2>&1
pgbench_ceiling 1
pgbench_ceiling 10
"$PLANT_PG_BIN/psql" --no-psqlrc --quiet "$DATABASE_URL" -c "drop schema pgbench_chain cascade" >/dev/null 2>&1

# -- audited writes -----------------------------------------------------------------------------
note "audited writes"
# write_ceiling KEY: after a run over HTTP, the chain verified (and, for skills, every vector
# stored, untimed), then one run of the store loop, and the chain verified again. The server is
# paused (SIGSTOP) while the loop runs: left running, it would fold every entry the loop appends
# into its read model on the same two cores, a cost the HTTP row does not carry (the loop's
# process is not running then), and the loop would measure below the server it bounds. It
# catches up when it resumes, before the next run.
write_ceiling() {
  verify_chain "$1"
  if [ "$1" = post-skill ]; then vectors_caught_up "$1"; fi
  pause_server "$MAIN_PID"
  db_ceiling "$1" 1
  kill -CONT "$MAIN_PID"
  wait_200 "$BASE/health"
  verify_chain "db-$1"
  model_caught_up
}
for key in post-skill post-trial; do
  load_endpoint "$BASE" "$key" "$key" write_ceiling "$key"
  verify_chain "$key"
  # The -c1 runs' vectors, untimed (recorded apart; the report shows the -c32 runs'), so that
  # their catch-up does not load the next row.
  if [ "$key" = post-skill ]; then vectors_caught_up "$key-c1"; fi
done
meta rss_peak_kib "$(rss_kib "$MAIN_PID" VmHWM)"
meta image "not measured: no Docker daemon on this machine"
if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  if docker build -q -t plant-bench-image . >/dev/null 2>&1; then
    meta image "$(docker image inspect plant-bench-image --format '{{.Size}}' | awk '{ printf "%.1f MiB", $1 / 1048576 }')"
  fi
fi

# -- the same POST load over 1, 2 and 3 processes on one database -------------------------------
note "audited writes over 1, 2, 3 processes"
SCALE_PORTS=("$PORT")
# A process started now builds its read model from every record the rows before wrote (a run
# at `26b76d3` stopped here when the second took more than 30 s): each may take up to ten
# minutes, and the second's start-up is recorded.
for n in 2 3; do
  p=$(free_port)
  started=$(date +%s%N)
  START_WAIT=600 start_server "$p"
  if [ "$n" = 2 ]; then meta startup_grown_ms "$((($(date +%s%N) - started) / 1000000))"; fi
  SCALE_PORTS+=("$p")
done
# Interleaved, so that each process count samples the same stretch of a noisy machine, and in
# alternating order (1, 2, 3, then 3, 2, 1, …), so that the tables' growth, which every create
# adds to, does not always fall on the same count; each block waits for its vectors, so that
# one block's indexing does not load the next, starts after a checkpoint, and the chain is
# verified after it.
for run in $(seq 1 "$RUNS"); do
  order="1 2 3"
  if [ $((run % 2)) = 0 ]; then order="3 2 1"; fi
  for n in $order; do
    checkpoint_db
    jobs_started=()
    for i in $(seq 0 $((n - 1))); do
      conns=$(((32 + i) / n))
      threads=2
      [ "$n" -gt 1 ] && threads=1
      raw="$WORK/scale-$n-$run-$i.txt"
      BENCH_TAG="scale$n-$run-$i-$RANDOM" wrk -t"$threads" -c"$conns" -d"${SCALE_SECONDS}s" --latency \
        -s "$REPO/bench/lua/post-skill.lua" "http://127.0.0.1:${SCALE_PORTS[$i]}/api/v1/genesis/skills" >"$raw" 2>&1 &
      jobs_started+=($!)
    done
    for pid in "${jobs_started[@]}"; do wait "$pid" || true; done
    # Throughput adds up across processes; latency is the worst of the medians and p99s.
    if summary=$(for i in $(seq 0 $((n - 1))); do "$DRIVER" wrk-parse <"$WORK/scale-$n-$run-$i.txt"; done |
      awk -F'\t' '{ r += $1; if ($2 > p50) p50 = $2; if ($3 > p99) p99 = $3; ops += $4; e += $5 }
                  END { if (NR) printf "%.1f\t%.3f\t%.3f\t%d\t%d\n", r, p50, p99, ops, e; else exit 1 }'); then
      printf 'run\tscale%s\tpost-skill\t%s\n' "$n" "$summary" >>"$RECORDED"
      note "scale$n: $(cut -f1 <<<"$summary") req/s"
    fi
    verify_chain "scale$n"
    vectors_caught_up "scale$n"
  done
done
meta total_seconds "$(($(date +%s) - ${BENCH_STARTED:-$(date +%s)}))"

# -- report -------------------------------------------------------------------------------------
name="$STAMP-$COMMIT"
REPORTED=1
write_report "$name"
"$DRIVER" report --recorded "$RECORDED" --markdown "$OUT/latest.md" --svg "$OUT/latest.svg" --svg-link "latest.svg"
note "wrote $OUT/$name.md, $OUT/$name.svg and latest.{md,svg}"
cat "$OUT/latest.md"
