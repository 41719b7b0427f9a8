#!/usr/bin/env bash
# canary.sh start VERSION   run VERSION of the shop as the canary on 127.0.0.1:$CANARY_PORT
#                           (default 8082) and the weighted proxy on $PROXY_PORT (default 8090)
#                           in front of it and the stable shop ($SHOP_PORT); weight 0
# canary.sh weight N        send N% of the proxy's requests to the canary (the rollout's set:)
# canary.sh probe           50 requests through the proxy; prints the canary's 5xx ratio
# canary.sh stop            stop the canary and the proxy
# SHOP_SIMULATE=payments=unavailable canary.sh start V makes a canary that answers 5xx.
set -euo pipefail
. "$(dirname "$0")/common.sh"
export CANARY_PORT="${CANARY_PORT:-8082}" PROXY_PORT="${PROXY_PORT:-8090}"
export PROXY_WEIGHT_FILE="$STATE/canary-weight"
mkdir -p "$STATE/logs" "$STATE/canary"

stop_pid() { # stop_pid FILE: TERM the process in FILE, bounded wait, then KILL
  local pid
  [[ -f "$1" ]] || return 0
  pid="$(cat "$1")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$1"
}

wait_port() { # wait_port PORT: bounded (10s) wait until something listens
  "$PYTHON" - "$1" <<'PY'
import socket, sys, time
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.5).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(f"canary: nothing answers on port {sys.argv[1]}")
PY
}

case "${1:-}" in
  start)
    version="${2:?usage: canary.sh start VERSION}"
    "$0" stop >/dev/null
    find "$SHOP_HOME/app" -maxdepth 1 -name '*.py' ! -name 'test_*' -exec cp {} "$STATE/canary/" \;
    "$PYTHON" "$SHOP_HOME/app/proxy.py" weight 0 >/dev/null
    SHOP_PORT="$CANARY_PORT" SHOP_VERSION="$version" nohup "$PYTHON" "$STATE/canary/server.py" \
      >>"$STATE/logs/canary.log" 2>&1 </dev/null &
    echo $! >"$STATE/canary.pid"
    nohup "$PYTHON" "$SHOP_HOME/app/proxy.py" serve >>"$STATE/logs/proxy.log" 2>&1 </dev/null &
    echo $! >"$STATE/proxy.pid"
    wait_port "$CANARY_PORT" && wait_port "$PROXY_PORT"
    echo "canary: shop $version on :$CANARY_PORT; proxy on :$PROXY_PORT (stable :$SHOP_PORT), weight 0%"
    ;;
  weight) exec "$PYTHON" "$SHOP_HOME/app/proxy.py" weight "${2:?usage: canary.sh weight N}" ;;
  probe) exec "$PYTHON" "$SHOP_HOME/app/proxy.py" probe 50 ;;
  stop)
    stop_pid "$STATE/proxy.pid"
    stop_pid "$STATE/canary.pid"
    echo "canary: stopped"
    ;;
  *) echo "usage: canary.sh start VERSION | weight N | probe | stop" >&2; exit 2 ;;
esac
