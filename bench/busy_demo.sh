#!/usr/bin/env bash
# `make demo` on a busy machine (issue 29: the first demo on a fresh clone timed out starting
# Prefect's temporary API server at load ~9 on 2 cores). Starts BUSY CPU-bound processes (default
# 8), runs `make demo` with a fresh PREFECT_HOME (as on a fresh clone: the server creates its
# database first), stops them, and prints PASS or FAIL with the time and the load. Not part of
# `make test`: it keeps every core busy for minutes.
set -u
cd "$(dirname "$0")/.."
busy=${BUSY:-8}
mkdir -p var
log=var/busy_demo.log
home=$(mktemp -d "${TMPDIR:-/tmp}/recon-busy-prefect-XXXXXX")
pids=()
stop_busy() { [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null; pids=(); }
trap 'stop_busy; rm -rf "$home"' EXIT
for _ in $(seq "$busy"); do
  ( while :; do :; done ) &
  pids+=($!)
done
sleep 5  # let the load build up before Prefect starts
echo "busy-demo: $busy CPU-bound processes on $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg); make demo (log: $log)"
start=$(date +%s)
make demo PREFECT_HOME="$home" >"$log" 2>&1
rc=$?
secs=$(( $(date +%s) - start ))
load=$(cut -d' ' -f1 /proc/loadavg)
stop_busy
summary=$(grep '^demo: ' "$log" | tail -1)
if [ "$rc" -eq 0 ] && [ -n "$summary" ]; then
  echo "busy-demo: PASS in ${secs} s (load $load at the end): $summary"
  exit 0
fi
echo "busy-demo: FAIL (make demo exited $rc) after ${secs} s (load $load); last lines of $log:"
tail -5 "$log"
exit 1
