#!/usr/bin/env bash
# Non-test line count of plant-server/src at a revision (default: the work tree), and of its
# plumbing: the HTTP adapters a web framework would otherwise provide.
#
#   scripts/server-lines.sh [REV]
#
# Counted: every line of every *.rs file under plant-server/src (templates and static assets are
# not .rs), except `#[cfg(test)]` modules: from that line through the module's closing `}` in
# column 0.
# Plumbing: files under plant-server/src/edge/ or plant-server/src/metrics/, and any file named
# body, conditional, context, correlation, cors, extract, headers, metrics, problem, query,
# ratelimit, response, router, serve, service or wire (.rs), wherever it sits.
set -euo pipefail
rev="${1:-}"
cd "$(git rev-parse --show-toplevel)"
if [ -n "$rev" ]; then
    files=$(git ls-tree -r --name-only "$rev" plant-server/src | grep '\.rs$')
    show() { git show "$rev:$1"; }
else
    files=$(git ls-files plant-server/src | grep '\.rs$')
    show() { cat "$1"; }
fi
plumbing='^plant-server/src/(edge|metrics)/|/(body|conditional|context|correlation|cors|extract|headers|metrics|problem|query|ratelimit|response|router|serve|service|wire)\.rs$'
total=0
plumb=0
for f in $files; do
    n=$(show "$f" | awk '/^#\[cfg\(test\)\]/{t=1; next} t && /^}/{t=0; next} !t{n++} END{print n+0}')
    total=$((total + n))
    if [[ "$f" =~ $plumbing ]]; then
        plumb=$((plumb + n))
        printf '%6d  %s\n' "$n" "$f" >&2
    fi
done
echo "non-test lines: $total"
echo "plumbing: $plumb"
