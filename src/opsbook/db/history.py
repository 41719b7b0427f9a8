"""Which migrations a database has applied: opsbook's own history table, plus Supabase's and
Flyway's when they exist.

opsbook's table lives in the user's database as ``opsbook.schema_migrations``: one row per file
(name, version, sha256 checksum, applied_at, duration_ms, operator, run_id). Supabase's
``supabase_migrations.schema_migrations`` and Flyway's ``flyway_schema_history`` are read so a
database migrated by those tools shows the right files as applied; they carry no sha256, so drift
is only detected for files opsbook applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

SCHEMA = "opsbook"
TABLE = "schema_migrations"

_CREATE = f"""
CREATE SCHEMA IF NOT EXISTS {SCHEMA};
CREATE TABLE IF NOT EXISTS {SCHEMA}.{TABLE} (
    name        text PRIMARY KEY,
    version     text NOT NULL,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now(),
    duration_ms integer NOT NULL,
    operator    text NOT NULL,
    run_id      text
);
"""

Conn = psycopg.Connection[Any]


@dataclass(frozen=True)
class Applied:
    """One applied migration as a history table records it."""

    source: str
    """``opsbook``, ``supabase`` or ``flyway``."""
    name: str
    version: str
    checksum: str | None
    applied_at: datetime | None
    duration_ms: int | None
    operator: str | None


def ensure_table(conn: Conn) -> None:
    """Create opsbook's history table if it is missing (idempotent, safe under concurrency)."""
    with conn.transaction():
        # Two first runs at once would race on CREATE SCHEMA IF NOT EXISTS (a unique violation
        # in the catalog); a transaction-scoped advisory lock serialises them.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('opsbook.schema_migrations'))")
        conn.execute(_CREATE)


def _exists(conn: Conn, schema: str | None, table: str) -> str | None:
    """The qualified name of ``table`` (in ``schema``, or any schema on the search path first)."""
    row = conn.execute(
        "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname)"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relname = %s AND c.relkind IN ('r', 'p') AND (%s::text IS NULL OR n.nspname = %s)"
        " ORDER BY array_position(current_schemas(false), n.nspname::text) NULLS LAST LIMIT 1",
        (table, schema, schema),
    ).fetchone()
    return str(row[0]) if row else None


def read_opsbook(conn: Conn) -> list[Applied]:
    if _exists(conn, SCHEMA, TABLE) is None:
        return []
    rows = conn.execute(
        f"SELECT name, version, checksum, applied_at, duration_ms, operator"
        f" FROM {SCHEMA}.{TABLE} ORDER BY applied_at, name"
    ).fetchall()
    return [Applied("opsbook", *row) for row in rows]


def read_supabase(conn: Conn) -> list[Applied]:
    table = _exists(conn, "supabase_migrations", "schema_migrations")
    if table is None:
        return []
    rows = conn.execute(f"SELECT version, coalesce(name, '') FROM {table} ORDER BY version")
    return [
        Applied("supabase", f"{v}_{n}.sql" if n else v, str(v), None, None, None, None)
        for v, n in rows.fetchall()
    ]


def read_flyway(conn: Conn) -> list[Applied]:
    table = _exists(conn, None, "flyway_schema_history")
    if table is None:
        return []
    rows = conn.execute(
        f"SELECT script, version, installed_on, execution_time, installed_by FROM {table}"
        " WHERE success AND version IS NOT NULL ORDER BY installed_rank"
    ).fetchall()
    return [Applied("flyway", s, str(v), None, on, ms, by) for s, v, on, ms, by in rows]


def read_all(conn: Conn) -> list[Applied]:
    """Every applied migration the database records, opsbook's own first."""
    return read_opsbook(conn) + read_supabase(conn) + read_flyway(conn)


def record(
    conn: Conn,
    *,
    name: str,
    version: str,
    checksum: str,
    duration_ms: int,
    operator: str,
    run_id: str | None,
) -> None:
    """Record one applied migration (inside the migration's own transaction)."""
    conn.execute(
        f"INSERT INTO {SCHEMA}.{TABLE} (name, version, checksum, duration_ms, operator, run_id)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        (name, version, checksum, duration_ms, operator, run_id),
    )


def record_supabase(conn: Conn, *, version: str, name: str, statements: list[str]) -> None:
    """Also record in Supabase's table when it exists, so ``supabase db push`` skips the file."""
    table = _exists(conn, "supabase_migrations", "schema_migrations")
    if table is None:
        return
    columns = {
        r[0]
        for r in conn.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = 'supabase_migrations' AND table_name = 'schema_migrations'"
        ).fetchall()
    }
    if {"name", "statements"} <= columns:
        conn.execute(
            f"INSERT INTO {table} (version, name, statements) VALUES (%s, %s, %s)"
            " ON CONFLICT DO NOTHING",
            (version, name, statements),
        )
    else:
        conn.execute(
            f"INSERT INTO {table} (version) VALUES (%s) ON CONFLICT DO NOTHING", (version,)
        )
