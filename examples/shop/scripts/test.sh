#!/usr/bin/env bash
# The app's own unit tests (standard library unittest).
set -euo pipefail
. "$(dirname "$0")/common.sh"
cd "$SHOP_HOME/app"
exec "$PYTHON" -m unittest discover -s . -p 'test_*.py' "$@"
