#!/usr/bin/env bash
# Read-only: which version runs (pid, port), which is kept for rollback, the schema version.
set -euo pipefail
. "$(dirname "$0")/common.sh"
current="$(cat "$STATE/current" 2>/dev/null || echo none)"
previous="$(cat "$STATE/previous" 2>/dev/null || echo none)"
pid="$(cat "$STATE/server.pid" 2>/dev/null || true)"
if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then running="running (pid $pid)"; else running="not running"; fi
echo "current: $current, $running, port $SHOP_PORT"
echo "previous: $previous"
"$PYTHON" "$SHOP_HOME/app/shopdb.py" status "$DATABASE_PATH" "$SHOP_HOME/migrations"
