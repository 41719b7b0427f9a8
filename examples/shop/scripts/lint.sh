#!/usr/bin/env bash
# Byte-compile the app and check the migrations are numbered NNN_name.sql, in order, no gaps.
set -euo pipefail
. "$(dirname "$0")/common.sh"
"$PYTHON" -m compileall -q -f "$SHOP_HOME/app" >/dev/null
"$PYTHON" - "$SHOP_HOME/migrations" <<'PY'
import re, sys
from pathlib import Path
names = sorted(p.name for p in Path(sys.argv[1]).glob("*.sql"))
bad = [n for n in names if not re.match(r"^\d{3}_[a-z0-9_]+\.sql$", n)]
numbers = [int(n[:3]) for n in names if n not in bad]
if bad or numbers != list(range(1, len(numbers) + 1)):
    sys.exit(f"lint: migrations must be 001_name.sql, 002_... without gaps; found {names}")
print(f"lint: app compiles; {len(names)} migrations numbered 001..{len(names):03d}")
PY
