#!/usr/bin/env bash
# Runs every test plant has, from a clean clone, as CI does: formatting, lints, the unit,
# property, conformance, integration and database tests (against a throwaway PostgreSQL with
# pgvector that this script installs and starts), the search quality test with the real
# MiniLM model, and the static checks of the deployment files.
#
# Needs: the Rust toolchain, Python 3 with pip, and the package registries. Nothing else.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*" >&2; }

# A clean run needs about 8.5 GB: 7.6 GB of build under target/, 0.8 GB of model, PostgreSQL and
# Python tools under .cache/, and 0.1 GB of test databases under $TMPDIR (each test drops its
# own). Say so before cargo runs out of disk halfway through a link.
target_dir=${CARGO_TARGET_DIR:-target}
mkdir -p "$target_dir"
free_kb=$(df -Pk "$target_dir" | awk 'NR == 2 { print $4 }')
if [[ -n "$free_kb" && "$free_kb" -lt 8912896 ]]; then
  printf 'warning: %s has %d MB free; a clean run of the tests needs about 8.5 GB\n' \
    "$target_dir" "$((free_kb / 1024))" >&2
fi

step "formatting"
cargo fmt --all -- --check

step "lints"
cargo clippy --workspace --all-targets --locked -- -D warnings
# The binaries also build without the MiniLM embedder (what bench/run.sh builds when no model is
# present).
cargo clippy --locked -p plant-server -p plant-cli -p plant-bench --no-default-features --all-targets -- -D warnings

step "embedding model (all-MiniLM-L6-v2, pinned and hash-checked)"
PLANT_EMBED_MODEL_DIR=$(scripts/fetch-model.sh | tail -n 1)
export PLANT_EMBED_MODEL_DIR

step "Standard Webhooks reference verifier (standardwebhooks from PyPI, in a venv under .cache)"
# plant-server/tests/webhooks.rs checks delivery signatures with this independent implementation.
webhooks_venv="${PLANT_CACHE_DIR:-$PWD/.cache}/standardwebhooks-venv"
if ! "$webhooks_venv/bin/python" -c 'import standardwebhooks' 2>/dev/null; then
  if ! python3 -m venv "$webhooks_venv"; then
    # Debian and Ubuntu ship venv separately.
    if command -v apt-get >/dev/null 2>&1 && [[ $(id -u) -eq 0 ]]; then
      apt-get install -y --no-install-recommends python3-venv >&2
      python3 -m venv "$webhooks_venv"
    else
      echo "python3 -m venv failed: install python3-venv" >&2
      exit 1
    fi
  fi
  "$webhooks_venv/bin/python" -m pip install --quiet 'standardwebhooks==1.1.0' >&2
fi
export PLANT_STANDARDWEBHOOKS_PYTHON="$webhooks_venv/bin/python"

step "browser for the console's end-to-end tests (Debian's chromium and chromium-driver)"
PLANT_CHROMEDRIVER=$(scripts/test-browser.sh | tail -n 1)
export PLANT_CHROMEDRIVER

# plant-server's HTTP tests run on PostgreSQL when the database is there, so they run a second
# time with PLANT_TEST_STORE=memory: both stores answer the same over the wire.
server_tests=()
for f in plant-server/tests/*.rs; do server_tests+=(--test "$(basename "$f" .rs)"); done

step "tests (with a throwaway PostgreSQL 16 + pgvector), then the HTTP tests on the in-memory store"
scripts/test-db.sh run -- bash -ec '
  cargo test --workspace --locked --no-fail-fast
  printf "\n==> %s\n" "the HTTP tests again, on the in-memory store" >&2
  PLANT_TEST_STORE=memory cargo test --workspace --locked --no-fail-fast "$@"
' test-suites "${server_tests[@]}"

step "deployment static checks"
scripts/check-static.sh
