#!/usr/bin/env bash
# Starts plant-server on http://127.0.0.1:${PORT:-8000}.
#
# Without DATABASE_URL it serves an in-memory catalog seeded from seeds/catalog.json. The
# MiniLM embedding model is fetched once (pinned, hash-checked) so that search understands
# meaning; when it cannot be fetched the server falls back to lexical hashing and says so.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ -z "${PLANT_EMBED_MODEL_DIR:-}" ]; then
  if dir=$(scripts/fetch-model.sh | tail -n 1); then
    export PLANT_EMBED_MODEL_DIR=$dir
  else
    echo "run: the embedding model could not be fetched; search will be lexical only" >&2
  fi
fi
exec cargo run --release --locked -p plant-server -- "$@"
