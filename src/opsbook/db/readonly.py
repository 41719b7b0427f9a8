"""Read-only queries against the application's database, for ``sql`` checks.

PostgreSQL (``postgresql://``, ``postgres://``) through psycopg in a read-only transaction with a
statement timeout; SQLite (``sqlite:///path``, relative to the project) opened read-only. Errors
become DatabaseError with the URL and its password masked.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opsbook.errors import DatabaseError, UsageError
from opsbook.masking import Masker


@dataclass
class Rows:
    columns: list[str]
    rows: list[tuple[Any, ...]]


def query(url: str, sql: str, *, root: Path, timeout: float, secrets: tuple[str, ...] = ()) -> Rows:
    """Run one query read-only and return every row."""
    if url.startswith(("postgresql://", "postgres://")):
        return _postgres(url, sql, timeout, secrets)
    if url.startswith("sqlite:"):
        return _sqlite(_sqlite_path(url, root), sql, timeout)
    raise UsageError(
        "the database URL is neither postgresql:// nor sqlite:///",
        hint="set database.url (or the check's database:) to a postgresql:// or sqlite:/// URL",
    )


def _sqlite_path(url: str, root: Path) -> Path:
    path = url.removeprefix("sqlite:").removeprefix("///").removeprefix("//")
    return (root / path).resolve()


def _sqlite(path: Path, sql: str, timeout: float) -> Rows:
    if not path.is_file():
        raise DatabaseError(f"cannot open the database: no file {path}", hint="check the URL")
    deadline = time.monotonic() + timeout
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=timeout)
    except sqlite3.Error as err:
        raise DatabaseError(f"cannot open the database {path}: {err}") from None
    conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
    try:
        cursor = conn.execute(sql)
        rows = cursor.fetchall()
        columns = [d[0] for d in cursor.description or ()]
    except sqlite3.Error as err:
        message = f"no result within {timeout:g}s" if "interrupted" in str(err) else str(err)
        raise DatabaseError(f"database error: {message}") from None
    finally:
        conn.close()
    return Rows(columns, [tuple(r) for r in rows])


def _postgres(url: str, sql: str, timeout: float, secrets: tuple[str, ...]) -> Rows:
    import psycopg

    from opsbook.db.target import describe_error, url_secrets

    mask = Masker([*secrets, *url_secrets(url)])
    try:
        conn = psycopg.connect(
            url,
            connect_timeout=max(1, round(timeout)),
            options=f"-c statement_timeout={max(1, round(timeout * 1000))}",
        )
    except psycopg.Error as err:
        raise DatabaseError(
            f"cannot connect to the database: {mask(' '.join(str(err).split()))}",
            hint="check the URL and that the server is reachable",
        ) from None
    try:
        conn.read_only = True
        with conn.cursor() as cursor:
            cursor.execute(sql.encode())
            rows = cursor.fetchall() if cursor.description else []
            columns = [d.name for d in cursor.description or ()]
        conn.rollback()
    except psycopg.Error as err:
        raise DatabaseError(f"database error: {mask(describe_error(err))}") from None
    finally:
        conn.close()
    return Rows(columns, [tuple(r) for r in rows])
