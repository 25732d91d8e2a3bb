#!/usr/bin/env bash
# API fuzzing of a running plant-server with schemathesis (from PyPI, pinned), against its own
# /openapi.json: no 5xx, and every response matches the schema it documents.
#
#   reliability/fuzz-api.sh install            create the cached venv (idempotent)
#   reliability/fuzz-api.sh run BASE_URL [ST_ARGS...]
#                                              fuzz BASE_URL (http://127.0.0.1:PORT); extra
#                                              arguments go to `schemathesis run` (-H for tokens)
#
# Environment: PLANT_FUZZ_SEED (default 20260101), PLANT_FUZZ_MAX_EXAMPLES (default 25),
# PLANT_CACHE_DIR (default <repo>/.cache; the venv lives in it).
set -euo pipefail

readonly SCHEMATHESIS_VERSION="4.32.5"
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE_ROOT=${PLANT_CACHE_DIR:-$REPO/.cache}
VENV="$CACHE_ROOT/schemathesis-$SCHEMATHESIS_VERSION"
SEED=${PLANT_FUZZ_SEED:-20260101}
MAX_EXAMPLES=${PLANT_FUZZ_MAX_EXAMPLES:-25}

die() {
  echo "fuzz-api: error: $*" >&2
  exit 1
}

# Whether the venv is installed and still runs: a venv's scripts name its interpreter by absolute
# path, so a cache folder that was moved or copied holds a venv that no longer starts.
installed() { [ -f "$VENV/.installed" ] && "$VENV/bin/st" --version >/dev/null 2>&1; }

install() {
  installed && return 0
  mkdir -p "$CACHE_ROOT"
  exec 9>"$CACHE_ROOT/.schemathesis.lock"
  command -v flock >/dev/null 2>&1 && flock 9
  if ! installed; then
    local py
    py=$(command -v python3 || command -v python) || die "python3 is needed to install schemathesis"
    rm -rf "$VENV"
    "$py" -m venv "$VENV" || die "cannot create a venv (install python3-venv)"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
      "schemathesis==$SCHEMATHESIS_VERSION" >&2 ||
      die "pip could not install schemathesis==$SCHEMATHESIS_VERSION"
    touch "$VENV/.installed"
  fi
  exec 9>&-
}

case "${1:-}" in
install) install ;;
run)
  shift
  [ $# -ge 1 ] || die "usage: $0 run BASE_URL [ST_ARGS...]"
  base=$1
  shift
  install
  exec "$VENV/bin/st" run "$base/openapi.json" --url "$base" \
    --checks not_a_server_error,response_schema_conformance \
    --seed "$SEED" --max-examples "$MAX_EXAMPLES" --no-color "$@"
  ;;
*)
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
  ;;
esac
