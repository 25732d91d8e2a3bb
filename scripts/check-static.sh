#!/usr/bin/env bash
# Static checks of the deployment: Terraform under infra/, the GitHub workflows, the Dockerfile.
#
#   ./scripts/check-static.sh
#
# Needs only python3 (3.9+) and PyPI. The tools live in a virtualenv under
# ${PLANT_CACHE_DIR:-<repo>/.cache}/static-venv, rebuilt only when the pinned requirements change, so a
# second run takes seconds. No Terraform binary or provider is needed; where `terraform` happens to be
# installed, `terraform fmt -check` and a `terraform console` cross-check of the certificate-name hash
# run as extras.
#
# Steps (each prints ok/FAIL; the script exits non-zero if any fails):
#   infra      python-hcl2 parses every .tf/.tfvars; tfvars complete; one state prefix; cert-name hash
#              fixtures vs Python vs the module's expression; DATABASE_URL encoding
#   checkov    built-in checks plus scripts/static/checkov/*.yaml on infra/ (skips are inline, with reasons)
#   policies   each custom policy fails on scripts/static/fixtures/checkov-bad (the policies can fire)
#   actionlint .github/workflows/*.yml (with shellcheck on run: scripts)
#   hadolint   Dockerfile
#   fmt        terraform fmt -check (only where terraform is installed)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATIC="$REPO/scripts/static"
CACHE_DIR="${PLANT_CACHE_DIR:-$REPO/.cache}"
VENV_ROOT="$CACHE_DIR/static-venv"
PYTHON="${PYTHON:-python3}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

say() { printf '%s\n' "$*"; }
die() { printf 'check-static: %s\n' "$*" >&2; exit 2; }

command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found; install Python 3.9 or newer"
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)' \
  || die "$PYTHON is $("$PYTHON" --version 2>&1); Python 3.9 or newer is needed"
"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null \
  || die "$PYTHON lacks venv/ensurepip (on Debian: apt-get install python3-venv)"

# ---- virtualenvs ---------------------------------------------------------------------------------
# Two of them: checkov depends on bc-python-hcl2, which installs the same `hcl2` module as python-hcl2.
ensure_venv() {
  local name="$1"; shift
  local dir="$VENV_ROOT/$name"
  local stamp
  stamp="$( { "$PYTHON" -c 'import sys; print(sys.version)'; cat "$@"; } | sha256sum | cut -d' ' -f1)"
  if [ -x "$dir/bin/python" ] && [ "$(cat "$dir/.stamp" 2>/dev/null || true)" = "$stamp" ]; then
    return 0
  fi
  say "setting up the $name virtualenv in $dir (first run or requirements changed)"
  rm -rf "$dir"
  mkdir -p "$VENV_ROOT"
  "$PYTHON" -m venv "$dir" || die "could not create a virtualenv in $dir"
  local pip_args=(--disable-pip-version-check --no-input --quiet)
  local req
  for req in "$@"; do
    case "$req" in
      *constraints*) pip_args+=(-c "$req") ;;
      *) pip_args+=(-r "$req") ;;
    esac
  done
  if ! "$dir/bin/python" -m pip install "${pip_args[@]}" >"$WORK/pip-$name.log" 2>&1; then
    cat "$WORK/pip-$name.log" >&2
    rm -rf "$dir"
    die "pip could not install the $name tools (is PyPI reachable?)"
  fi
  printf '%s\n' "$stamp" >"$dir/.stamp"
}

ensure_venv hcl "$STATIC/requirements-hcl.txt"
ensure_venv tools "$STATIC/requirements-tools.txt" "$STATIC/constraints-tools.txt"
HCL_PY="$VENV_ROOT/hcl/bin/python"
TOOLS="$VENV_ROOT/tools/bin"

passed=0
failed=0
failed_steps=()
record() { # step-name exit-status
  if [ "$2" -eq 0 ]; then
    passed=$((passed + 1)); say "ok   $1"
  else
    failed=$((failed + 1)); failed_steps+=("$1"); say "FAIL $1"
  fi
}

# ---- infra structure (python-hcl2) ---------------------------------------------------------------
say "== infra: parse, tfvars, state prefix, certificate-name hash, DATABASE_URL"
status=0
"$HCL_PY" "$STATIC/check_infra.py" "$REPO" || status=$?
record "infra structure" "$status"

# ---- checkov -------------------------------------------------------------------------------------
say "== checkov on infra/"
checkov_counts() { # json-file -> "passed failed skipped parse_errors"
  "$HCL_PY" - "$1" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
reports = data if isinstance(data, list) else [data]
p = f = s = e = 0
for r in reports:
    summary = r.get("summary", {})
    p += summary.get("passed", 0); f += summary.get("failed", 0)
    s += summary.get("skipped", 0); e += summary.get("parsing_errors", 0)
    for c in r.get("results", {}).get("failed_checks", []):
        print(f"  FAILED {c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}", file=sys.stderr)
print(p, f, s, e)
PY
}
checkov_args=(--framework terraform --skip-download --compact
  --external-checks-dir "$STATIC/checkov" -o json)
status=0
"$TOOLS/checkov" -d "$REPO/infra" "${checkov_args[@]}" >"$WORK/checkov.json" 2>"$WORK/checkov.err" || status=$?
if [ ! -s "$WORK/checkov.json" ]; then
  cat "$WORK/checkov.err" >&2
  record "checkov" 1
  ck_passed=0; ck_failed=0; ck_skipped=0
else
  read -r ck_passed ck_failed ck_skipped ck_parse < <(checkov_counts "$WORK/checkov.json")
  say "     checkov: $ck_passed passed, $ck_failed failed, $ck_skipped skipped, $ck_parse parsing errors"
  [ "$ck_failed" -eq 0 ] && [ "$ck_parse" -eq 0 ] && [ "$ck_passed" -gt 0 ] && status=0 || status=1
  record "checkov" "$status"
fi

# ---- the custom policies fire on known-bad configuration -----------------------------------------
say "== custom checkov policies against scripts/static/fixtures/checkov-bad"
policy_ids="$(sed -n 's/^  id: "\(CKV2_PLANT_[0-9]*\)"$/\1/p' "$STATIC"/checkov/*.yaml | sort | paste -sd, -)"
[ -n "$policy_ids" ] || die "no custom policies found in $STATIC/checkov"
"$TOOLS/checkov" -d "$STATIC/fixtures/checkov-bad" "${checkov_args[@]}" --check "$policy_ids" \
  >"$WORK/checkov-bad.json" 2>"$WORK/checkov-bad.err" || true
status=0
"$HCL_PY" - "$WORK/checkov-bad.json" "$policy_ids" <<'PY' || status=$?
import json, sys
data = json.load(open(sys.argv[1]))
reports = data if isinstance(data, list) else [data]
fired = {c["check_id"] for r in reports for c in r.get("results", {}).get("failed_checks", [])}
missing = [i for i in sys.argv[2].split(",") if i not in fired]
for i in missing:
    print(f"     policy {i} did not fire on the bad fixture", file=sys.stderr)
print(f"     {len(fired)} of {len(sys.argv[2].split(','))} policies fired on the bad fixture")
sys.exit(1 if missing else 0)
PY
record "custom policies fire" "$status"

# ---- actionlint ----------------------------------------------------------------------------------
say "== actionlint on .github/workflows"
status=0
(cd "$REPO" && "$TOOLS/actionlint" -no-color -shellcheck "$TOOLS/shellcheck" \
  .github/workflows/*.yml) >"$WORK/actionlint.txt" 2>&1 || status=$?
al_findings="$(grep -cE '^[^ ].*:[0-9]+:[0-9]+: ' "$WORK/actionlint.txt" || true)"
cat "$WORK/actionlint.txt"
say "     actionlint: $al_findings findings"
[ "$status" -eq 0 ] && [ "$al_findings" -eq 0 ] || status=1
record "actionlint" "$status"

# ---- hadolint ------------------------------------------------------------------------------------
say "== hadolint on Dockerfile"
status=0
"$TOOLS/hadolint" --no-color "$REPO/Dockerfile" >"$WORK/hadolint.txt" 2>&1 || status=$?
hl_findings="$(grep -c 'Dockerfile:' "$WORK/hadolint.txt" || true)"
cat "$WORK/hadolint.txt"
say "     hadolint: $hl_findings findings"
record "hadolint" "$status"

# ---- terraform fmt (extra, only where terraform exists) ------------------------------------------
if command -v terraform >/dev/null 2>&1; then
  say "== terraform fmt -check (terraform found on PATH)"
  status=0
  terraform fmt -check -recursive -diff "$REPO/infra" >"$WORK/fmt.txt" 2>&1 || status=$?
  [ "$status" -eq 0 ] || cat "$WORK/fmt.txt"
  record "terraform fmt" "$status"
else
  say "== terraform fmt: skipped (no terraform binary; not required)"
fi

say ""
say "static summary: checkov ${ck_passed} passed / ${ck_failed} failed / ${ck_skipped} skipped; actionlint ${al_findings} findings; hadolint ${hl_findings} findings"
say "static: ${passed} passed, ${failed} failed"
if [ "$failed" -ne 0 ]; then
  say "failed steps: ${failed_steps[*]}" >&2
  exit 1
fi
