"""The shop's SQLite database: numbered SQL migrations, backups, and the queries the app needs.

Standard library only. Also a small command line used by scripts/migrate.sh, backup.sh and
status.sh::

    python shopdb.py migrate DB_PATH MIGRATIONS_DIR
    python shopdb.py backup DB_PATH BACKUP_FILE
    python shopdb.py status DB_PATH MIGRATIONS_DIR
"""

from __future__ import annotations

import re
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path

MIGRATION_FILE = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    """One numbered migration file, e.g. ``002_create_orders.sql``."""

    version: str
    name: str
    path: Path


def connect(db_path: Path) -> sqlite3.Connection:
    """Open the database; autocommit mode so migrations manage their own transactions."""
    conn = sqlite3.connect(db_path, isolation_level=None, timeout=10)
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def discover(migrations_dir: Path) -> list[Migration]:
    """The migration files in version order; a misnamed or duplicate-numbered file is an error."""
    found: dict[str, Migration] = {}
    for path in sorted(migrations_dir.glob("*.sql")):
        match = MIGRATION_FILE.match(path.name)
        if not match:
            raise ValueError(f"{path}: migration files are named NNN_snake_case.sql")
        version, name = match.groups()
        if version in found:
            raise ValueError(f"{path}: version {version} is also {found[version].path.name}")
        found[version] = Migration(version, name, path)
    return [found[v] for v in sorted(found)]


def _ensure_table(conn: sqlite3.Connection) -> None:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version TEXT PRIMARY KEY, name TEXT NOT NULL,"
        " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')))"
    )


def applied_versions(conn: sqlite3.Connection) -> list[str]:
    """Versions recorded in ``schema_migrations`` (empty for a new database)."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    ).fetchone()
    if not exists:
        return []
    return [row[0] for row in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]


def pending(conn: sqlite3.Connection, migrations_dir: Path) -> list[Migration]:
    """Migrations not yet applied, in order."""
    done = set(applied_versions(conn))
    return [m for m in discover(migrations_dir) if m.version not in done]


def migrate(db_path: Path, migrations_dir: Path) -> list[Migration]:
    """Apply pending migrations, each in its own transaction; return those applied.

    A migration and its ``schema_migrations`` row commit together, so a failed migration leaves
    the database as it was before that migration and a re-run retries it.
    """
    db_path.parent.mkdir(parents=True, exist_ok=True)
    conn = connect(db_path)
    try:
        _ensure_table(conn)
        todo = pending(conn, migrations_dir)
        for migration in todo:
            sql = migration.path.read_text(encoding="utf-8")
            # executescript runs the whole file; the explicit BEGIN/COMMIT makes the file and
            # its bookkeeping row one transaction. version/name match MIGRATION_FILE, so they
            # are safe to inline.
            try:
                conn.executescript(
                    f"BEGIN;\n{sql}\n;\nINSERT INTO schema_migrations (version, name) "
                    f"VALUES ('{migration.version}', '{migration.name}');\nCOMMIT;"
                )
            except sqlite3.Error as err:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise RuntimeError(f"{migration.path.name} failed: {err}") from err
        return todo
    finally:
        conn.close()


def backup(db_path: Path, target: Path) -> bool:
    """Copy the database consistently (SQLite online backup) to target; False if there is none."""
    if not db_path.is_file():
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(db_path)
    dest = sqlite3.connect(target)
    try:
        source.backup(dest)
    finally:
        dest.close()
        source.close()
    return True


def products(db_path: Path) -> list[dict[str, object]]:
    """The catalogue, for GET /api/products."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        conn.row_factory = sqlite3.Row
        columns = {row[1] for row in conn.execute("PRAGMA table_info(products)")}
        stock = ", stock" if "stock" in columns else ""
        rows = conn.execute(f"SELECT id, sku, name, price_cents{stock} FROM products ORDER BY id")
        return [dict(row) for row in rows]
    finally:
        conn.close()


def schema_version(db_path: Path) -> str | None:
    """The newest applied migration, or None when the database is missing or unmigrated."""
    if not db_path.is_file():
        return None
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        versions = applied_versions(conn)
    finally:
        conn.close()
    return versions[-1] if versions else None


def main(argv: list[str]) -> int:
    """Command line for the shell scripts; returns the exit code."""
    usage = "usage: shopdb.py migrate DB MIGRATIONS_DIR | backup DB FILE | status DB MIGRATIONS_DIR"
    if len(argv) != 3 or argv[0] not in ("migrate", "backup", "status"):
        print(usage, file=sys.stderr)
        return 2
    command, db_path, other = argv[0], Path(argv[1]), Path(argv[2])
    try:
        if command == "migrate":
            applied = migrate(db_path, other)
            for migration in applied:
                print(f"applied {migration.path.name}")
            count = f"{len(applied)} migration{'' if len(applied) == 1 else 's'}"
            print(f"{count} applied; schema at {schema_version(db_path)}")
        elif command == "backup":
            if backup(db_path, other):
                print(f"backed up {db_path.name} to {other}")
            else:
                print(f"no database at {db_path} yet; nothing to back up")
        else:
            conn = connect(db_path) if db_path.is_file() else None
            done = applied_versions(conn) if conn else []
            todo = [m.path.name for m in discover(other) if m.version not in set(done)]
            print(f"schema: {done[-1] if done else 'empty'}; pending: {', '.join(todo) or 'none'}")
    except (OSError, ValueError, RuntimeError, sqlite3.Error) as err:
        print(f"shopdb {command}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
