#!/usr/bin/env bash
# deploy.sh VERSION   prepare .state/releases/VERSION from app/, stop the running server, start
#                     VERSION on 127.0.0.1:$SHOP_PORT, and keep the version it replaced in
#                     .state/previous for rollback.
# deploy.sh previous  roll back: start the kept previous release again (its code as deployed);
#                     after the very first deploy, stop it (before it, nothing ran).
#
# Waits (bounded by SHOP_DEPLOY_TIMEOUT seconds, default 15) until /health answers with the new
# version; if it never does, the new server is stopped, the old one restarted, and the exit code
# is 1. State (current, previous) changes only when a deploy succeeded.
set -euo pipefail
. "$(dirname "$0")/common.sh"
target="${1:?usage: deploy.sh VERSION | previous}"
timeout="${SHOP_DEPLOY_TIMEOUT:-15}"
releases="$STATE/releases"
mkdir -p "$releases" "$STATE/logs"
current="$(cat "$STATE/current" 2>/dev/null || true)"

write_state() { # write_state NAME VALUE: atomically, so a crash never leaves half a file
  printf '%s\n' "$2" >"$STATE/$1.tmp" && mv "$STATE/$1.tmp" "$STATE/$1"
}

start() { # start VERSION: the server in the background, detached from this script's session
  local version="$1" launcher=()
  command -v setsid >/dev/null && launcher=(setsid)
  cd "$SHOP_HOME"
  SHOP_VERSION="$version" nohup "${launcher[@]}" "$PYTHON" "$releases/$version/server.py" \
    >>"$STATE/logs/server.log" 2>&1 </dev/null &
  echo $! >"$STATE/server.pid"
}

healthy() { # healthy VERSION: poll /health until it reports VERSION or the server dies
  "$PYTHON" - "$SHOP_PORT" "$1" "$timeout" "$(cat "$STATE/server.pid")" <<'PY'
import json, os, sys, time, urllib.request
port, version, timeout, pid = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
deadline = time.monotonic() + timeout
seen = "no answer"
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit(f"deploy: the server (pid {pid}) exited; see .state/logs/server.log")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as reply:
            body = json.load(reply)
        if body.get("version") == version and body.get("status") == "ok":
            sys.exit(0)
        seen = f"answered {body}"
    except (OSError, ValueError) as err:
        seen = str(err)
    time.sleep(0.2)
sys.exit(f"deploy: /health on port {port} did not report version {version} within {timeout:g}s ({seen})")
PY
}

if [[ "$target" == previous ]]; then
  target="$(cat "$STATE/previous" 2>/dev/null || true)"
  if [[ -z "$target" && -n "$current" ]]; then
    # The first deploy has nothing before it: rolling it back means nothing runs, as before.
    "$SHOP_HOME/scripts/stop.sh"
    rm -f "$STATE/current"
    echo "deploy: rolled back $current, the first release; no version runs now"
    exit 0
  fi
  if [[ -z "$target" || ! -d "$releases/$target" ]]; then
    echo "deploy: no previous release recorded in $STATE/previous; nothing to roll back to" >&2
    exit 1
  fi
  echo "deploy: rolling back from ${current:-nothing} to $target"
else
  if [[ ! "$target" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ ]]; then
    echo "deploy: version '$target' may hold only letters, digits, _ . - (e.g. 2 or 1.4.0)" >&2
    exit 2
  fi
  # A release directory is a copy of the app as it is now (tests excluded) plus its VERSION.
  staging="$releases/.$target.tmp"
  rm -rf "$staging" && mkdir -p "$staging"
  find "$SHOP_HOME/app" -maxdepth 1 -name '*.py' ! -name 'test_*' -exec cp {} "$staging/" \;
  printf '%s\n' "$target" >"$staging/VERSION"
  rm -rf "${releases:?}/$target" && mv "$staging" "$releases/$target"
  echo "deploy: prepared release $target"
fi

"$SHOP_HOME/scripts/stop.sh"
start "$target"
if ! healthy "$target"; then
  "$SHOP_HOME/scripts/stop.sh"
  if [[ -n "$current" && "$current" != "$target" && -d "$releases/$current" ]]; then
    echo "deploy: restarting $current so the shop stays up" >&2
    start "$current"
    healthy "$current" || echo "deploy: $current did not come back either" >&2
  fi
  exit 1
fi
if [[ -n "$current" && "$current" != "$target" ]]; then
  write_state previous "$current"
fi
write_state current "$target"
echo "deploy: shop $target running on http://127.0.0.1:$SHOP_PORT (pid $(cat "$STATE/server.pid")); previous: $(cat "$STATE/previous" 2>/dev/null || echo none)"
