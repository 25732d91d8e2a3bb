#!/usr/bin/env bash
# Server CPU per request, two servers compared in alternating pairs: on this shared machine a
# request rate moves with the hour, CPU time per request much less, and a pair run back to back
# meets the same hour.
#
#   bench/cpu-per-request.sh PORT_A PORT_B PATH [PAIRS] [SECONDS]
#
# Each pair runs `wrk -t2 -c32 -d<SECONDS>s` on PATH against each server (A first in odd pairs,
# B first in even ones) and reads the server's user + system time from /proc/<pid>/stat around
# it. Prints each run, then the medians and how many pairs B used less CPU per request.
set -euo pipefail
[ $# -ge 3 ] || { sed -n 2,10p "$0" >&2; exit 2; }
a=$1 b=$2 path=$3 pairs=${4:-16} secs=${5:-2}
tick=$(getconf CLK_TCK)
pid_of() { ss -ltnpH "sport = :$1" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2; }
cpu_of() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
run() { # PORT: prints "PORT req/s µs-per-request"
  local pid c0 c1 out
  pid=$(pid_of "$1") || true
  [ -n "$pid" ] || { echo "nothing listens on port $1" >&2; exit 1; }
  c0=$(cpu_of "$pid")
  out=$(wrk -t2 -c32 -d"${secs}s" "http://127.0.0.1:$1$path")
  c1=$(cpu_of "$pid")
  awk -v p="$1" -v c=$((c1 - c0)) -v t="$tick" -v out="$out" 'BEGIN {
    n = split(out, l, "\n")
    for (i = 1; i <= n; i++) {
      if (l[i] ~ /requests in/) { split(l[i], f, " "); reqs = f[1] }
      if (l[i] ~ /Requests\/sec/) { split(l[i], f, " "); rate = f[2] }
    }
    printf "%s\t%.0f\t%.2f\n", p, rate, c / t * 1e6 / reqs
  }'
}
results=$(for i in $(seq "$pairs"); do
  if [ $((i % 2)) = 1 ]; then run "$a"; run "$b"; else run "$b"; run "$a"; fi
done)
echo "$results"
awk -F'\t' -v a="$a" -v b="$b" '
  function median(v, n,   i, j, t) {
    for (i = 2; i <= n; i++) { t = v[i]; for (j = i - 1; j >= 1 && v[j] > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
  }
  $1 == a { na++; ca[na] = $3; ra[na] = $2 }
  $1 == b { nb++; cb[nb] = $3; rb[nb] = $2 }
  END {
    for (i = 1; i <= na && i <= nb; i++) { if (cb[i] < ca[i]) less++; if (rb[i] > ra[i]) more++ }
    printf "port %s: median %.0f req/s, %.2f µs/request\n", a, median(ra, na), median(ca, na)
    printf "port %s: median %.0f req/s, %.2f µs/request\n", b, median(rb, nb), median(cb, nb)
    printf "port %s used less CPU per request in %d of %d pairs, served more in %d\n", b, less, na, more
  }' <<<"$results"
