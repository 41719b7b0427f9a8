#!/usr/bin/env bash
# Stop the running server (pidfile .state/server.pid); a no-op when none runs.
set -euo pipefail
. "$(dirname "$0")/common.sh"
pidfile="$STATE/server.pid"
[[ -f "$pidfile" ]] || { echo "stop: no server running"; exit 0; }
pid="$(cat "$pidfile")"
if kill -0 "$pid" 2>/dev/null; then
  kill -TERM "$pid"
  # Bounded wait (10s) for a clean exit, then force.
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  echo "stop: stopped pid $pid"
else
  echo "stop: pid $pid was not running"
fi
rm -f "$pidfile"
