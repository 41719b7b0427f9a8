# Sourced by the other scripts: paths relative to this file, so they work from any cwd.
# shellcheck shell=bash
SHOP_HOME="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="$SHOP_HOME/.state"
PYTHON="${PYTHON:-python3}"
SHOP_PORT="${SHOP_PORT:-8081}"
# DATABASE_PATH from the env contract; relative paths are relative to the shop directory.
DATABASE_PATH="${DATABASE_PATH:-.state/shop.db}"
case "$DATABASE_PATH" in
  /*) ;;
  *) DATABASE_PATH="$SHOP_HOME/$DATABASE_PATH" ;;
esac
export SHOP_PORT DATABASE_PATH
