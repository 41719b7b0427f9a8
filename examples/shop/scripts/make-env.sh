#!/usr/bin/env bash
# make-env.sh [FILE]: create FILE (default .env.local) from .env.example, each `changeme` replaced
# by a random, obviously fake value, so the demo runs without real keys. Idempotent: an existing FILE is kept as is.
set -euo pipefail
. "$(dirname "$0")/common.sh"
target="${1:-$SHOP_HOME/.env.local}"
if [[ -f "$target" ]]; then
  echo "make-env: $target exists; kept"
  exit 0
fi
umask 077
"$PYTHON" - "$SHOP_HOME/.env.example" "$target" <<'PY'
import re, secrets, sys
from pathlib import Path
source, target = Path(sys.argv[1]), Path(sys.argv[2])
def fake(name: str) -> str:
    token = secrets.token_hex(16)
    if name.endswith("_DSN"):
        return f"https://{token}@sentry.invalid/1"
    if name.endswith("_URL") or name.endswith("_HOST"):
        return f"https://{token}.invalid"
    return f"fake_{token}"
lines = []
for line in source.read_text(encoding="utf-8").splitlines():
    match = re.match(r"^([A-Z_][A-Z0-9_]*)=changeme$", line)
    lines.append(f"{match.group(1)}={fake(match.group(1))}" if match else line)
tmp = target.with_name(target.name + ".tmp")
tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
tmp.replace(target)
PY
echo "make-env: wrote $target with random placeholder values"
