# CPU time from /proc, for the bench scripts that source this file.

# CPU ticks (user + system) of the given processes; one that has exited counts nothing.
ticks_of() {
  local t=0 p
  for p in "$@"; do
    [ -r "/proc/$p/stat" ] && t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
  done
  echo "$t"
}

# CPU ticks of the whole machine.
machine_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }

# PID of the postmaster of the PostgreSQL server psql_ reaches.
postmaster_pid() { head -n 1 "$(psql_ 'show data_directory')/postmaster.pid"; }

# The PostgreSQL server's processes: the postmaster $1 and its children.
pg_pids() {
  echo "$1"
  pgrep -P "$1" || true
}
