#!/usr/bin/env bash
# One install step, quietly: `tools/step.sh NAME PROBE -- COMMAND...`.
# Prints `==> NAME`, then every STEP_TICK seconds (default 10) one progress line with the elapsed
# time and the output of the shell snippet PROBE (e.g. how many packages are installed so far),
# then `==> NAME: done in N s`. The command's own output goes to a log file, shown (its last 60
# lines) only when the command fails. VERBOSE=1 shows the command's output as it runs instead.
set -u
name=$1 probe=$2
shift 2
[ "${1:-}" = "--" ] && shift
started=$(date +%s)
echo "==> $name"
if [ -n "${VERBOSE:-}" ] && [ "${VERBOSE}" != 0 ]; then
  "$@"
  status=$?
else
  log=$(mktemp "${TMPDIR:-/tmp}/hebo-step.XXXXXX")
  "$@" >"$log" 2>&1 &
  pid=$!
  tick=${STEP_TICK:-10}
  while kill -0 "$pid" 2>/dev/null; do
    for _ in $(seq "$tick"); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -0 "$pid" 2>/dev/null && echo "    ... $(( $(date +%s) - started )) s: $(eval "$probe" 2>/dev/null)"
  done
  wait "$pid"
  status=$?
  if [ "$status" -ne 0 ]; then
    echo "==> $name FAILED (exit $status); its last output:" >&2
    tail -n 60 "$log" >&2
  fi
  rm -f "$log"
fi
[ "$status" -eq 0 ] && echo "==> $name: done in $(( $(date +%s) - started )) s"
exit "$status"
