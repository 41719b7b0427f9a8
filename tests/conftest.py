"""Shared fixtures. Everything is real: SQLite files, a PostgreSQL server, subprocesses.

PostgreSQL is found at $OPSBOOK_TEST_PG_URL (default postgresql://postgres@127.0.0.1:5432/postgres).
Locally a missing server skips the tests that need it; under CI=true it fails them, because CI
must prove the PostgreSQL paths.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from opsbook.store import Store

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO.parent / "shared" / "seeds"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
PG_ADMIN_URL = os.environ.get(
    "OPSBOOK_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def _pg_available() -> str | None:
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.Error as err:
        return str(err).strip()


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    """The admin URL of the test PostgreSQL server; skips (fails under CI) when unreachable."""
    problem = _pg_available()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL unreachable at {PG_ADMIN_URL} under CI: {problem}")
        pytest.skip(f"PostgreSQL unreachable at {PG_ADMIN_URL}: {problem}")
    return PG_ADMIN_URL


def _swap_db(url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def fresh_pg_url(pg_admin_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database for one test, dropped afterwards.

    Each test gets its own database so tests never see each other's rows or locks.
    """
    import psycopg

    name = f"opsbook_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _swap_db(pg_admin_url, name)
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def store_url(tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """The URL of a fresh store for one test.

    A new SQLite file by default; a new PostgreSQL database when OPSBOOK_TEST_DATABASE_URL is
    set (scripts/test sets it to run the "store" tests a second time, on PostgreSQL).
    """
    if os.environ.get("OPSBOOK_TEST_DATABASE_URL"):
        url: str = request.getfixturevalue("fresh_pg_url")
        return url
    return f"sqlite:///{tmp_path / 'state.db'}"


@pytest.fixture
def stores() -> Iterator[Callable[[str], Store]]:
    """Opens stores by URL and closes them all after the test (no pooled connection leaks)."""
    from opsbook.store import open_store

    opened: list[Store] = []

    def open_(url: str) -> Store:
        store = open_store(url)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()


def run_cli(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    input: str | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run the real `opsbook` command in a subprocess (python -m opsbook)."""
    full_env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "opsbook", *args],
        cwd=cwd,
        env=full_env,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
