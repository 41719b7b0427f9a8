"""Helpers for the database lifecycle tests (tests/test_db_*.py): a project folder on disk whose
opsbook.yaml points ``database:`` at a real PostgreSQL database through an env file."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import FIXTURES

DB_FIXTURES = FIXTURES / "db"
SECRET = "pl4nted-S3cret-pw"  # pragma: allowlist secret
"""A password planted in DATABASE_URL; trust auth ignores it, tests grep outputs for it."""

SPEC = """\
version: 1
project: dbtest
environments:
  local:
    env_file: .env.local
env:
  DATABASE_URL: {{required: true, secret: true}}
database:
  url: ${{{{ env.DATABASE_URL }}}}
  migrations: migrations
{extra}
runbooks:
  release:
    steps:
      - id: migrate
        migrate: {{}}
"""


def with_password(url: str) -> str:
    """The test server's URL with the planted password in its user-info part."""
    return url.replace("postgres@", f"postgres:{SECRET}@", 1)


def make_project(root: Path, url: str, migrations: Path | None = None, *, extra: str = "") -> Path:
    """Write opsbook.yaml, .env.local and a migrations folder (copied from ``migrations``)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "opsbook.yaml").write_text(SPEC.format(extra=extra))
    (root / ".env.local").write_text(f"DATABASE_URL={with_password(url)}\n")
    folder = root / "migrations"
    if migrations is not None:
        shutil.copytree(migrations, folder)
    else:
        folder.mkdir()
    return root


def generate(folder: Path, count: int) -> None:
    """``count`` numbered migrations: each adds a table (with RLS) and logs itself in applied_log,
    so a test can count how often each one ran."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "001_applied_log.sql").write_text(
        "CREATE TABLE applied_log (migration text NOT NULL);\n"
        "ALTER TABLE applied_log ENABLE ROW LEVEL SECURITY;\n"
        "INSERT INTO applied_log VALUES ('001');\n"
    )
    for n in range(2, count + 1):
        (folder / f"{n:03d}_table_{n}.sql").write_text(
            f"CREATE TABLE t{n} (id bigint PRIMARY KEY, note text);\n"
            f"ALTER TABLE t{n} ENABLE ROW LEVEL SECURITY;\n"
            f"INSERT INTO t{n} VALUES ({n}, 'row {n}');\n"
            f"INSERT INTO applied_log VALUES ('{n:03d}');\n"
        )
