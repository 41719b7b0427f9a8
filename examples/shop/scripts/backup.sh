#!/usr/bin/env bash
# backup.sh RUN_ID: copy the SQLite database to .state/backups/RUN_ID.db (online backup API).
set -euo pipefail
. "$(dirname "$0")/common.sh"
run_id="${1:?usage: backup.sh RUN_ID}"
if [[ ! "$run_id" =~ ^[A-Za-z0-9_.-]+$ ]]; then
  echo "backup.sh: run id '$run_id' may hold only letters, digits, _ . -" >&2
  exit 2
fi
exec "$PYTHON" "$SHOP_HOME/app/shopdb.py" backup "$DATABASE_PATH" "$STATE/backups/$run_id.db"
