#!/usr/bin/env bash
# Apply pending numbered migrations (migrations/NNN_*.sql), recording each in schema_migrations.
# Irreversible: there are no down migrations; restore a backup or forward-fix instead.
set -euo pipefail
. "$(dirname "$0")/common.sh"
exec "$PYTHON" "$SHOP_HOME/app/shopdb.py" migrate "$DATABASE_PATH" "$SHOP_HOME/migrations"
