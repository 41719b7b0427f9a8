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

import forked

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


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """Stretch pytest-timeout's default limit (30 s, pyproject.toml) on an overloaded machine.

    The limit catches hung tests; it is not a speed target. When the load average is above the
    number of cores (several suites sharing two cores), every process runs that many times
    slower, so the default limit is multiplied by load / cores. Explicit
    ``@pytest.mark.timeout(N)`` limits are left as written.
    """
    default = getattr(config, "_env_timeout", None)
    if default:
        load = os.getloadavg()[0] / (os.cpu_count() or 1)
        config._env_timeout = default * max(1.0, load)  # type: ignore[attr-defined]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``slow`` go first, in their own order, so that pytest-xdist starts the long
    ones (several wait on a real outage or a browser) while the short ones fill the other
    workers, instead of one of them finishing alone at the end."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


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


BACKENDS = ("sqlite", "postgresql")
"""The stores every test marked ``store`` runs on, as two tests of one session."""


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test marked ``store`` that uses ``store_url`` runs once per backend (ids ``[sqlite]``
    and ``[postgresql]``), in the same session, so pytest-xdist spreads both over its workers."""
    if "store_url" in metafunc.fixturenames and metafunc.definition.get_closest_marker("store"):
        metafunc.parametrize("store_backend", BACKENDS, indirect=True)


@pytest.fixture
def store_backend(request: pytest.FixtureRequest) -> str:
    """``sqlite`` unless the test is marked ``store`` (then each of ``BACKENDS`` in turn)."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def store_url(tmp_path: Path, store_backend: str, request: pytest.FixtureRequest) -> str:
    """The URL of a fresh store for one test: a new SQLite file, or a new PostgreSQL database
    for the ``[postgresql]`` run of a test marked ``store`` (skipped locally without a server,
    a failure under CI)."""
    if store_backend == "postgresql":
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


IN_PROCESS = frozenset(
    {"validate", "plan", "check", "import", "init", "runs", "show", "releases", "verify-log"}
)
"""Commands ``run_cli`` runs inside the test process (no engine, no signals, no threads): a
fresh interpreter costs more than most of these commands do."""


def run_cli(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    input: str | None = None,
    timeout: float = 120,
    in_process: bool | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the real `opsbook` command: in this process for the commands of ``IN_PROCESS``
    (Typer's CliRunner, the same code path as the console script), else in a child forked from
    this process (see ``forked``: a process of its own that skips the imports).
    ``in_process=False`` starts a fresh interpreter (python -m opsbook): what is read once per
    process, such as entry points, is read again."""
    full_env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})}
    if in_process is None:
        if args and args[0] in IN_PROCESS:
            return _invoke(args, cwd, env, input)
        if forked.FORK:
            return forked.run(args, cwd=cwd, env=full_env, input=input, timeout=timeout)
    elif in_process:
        return _invoke(args, cwd, env, input)
    return subprocess.run(
        [sys.executable, "-m", "opsbook", *args],
        cwd=cwd,
        env=full_env,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _invoke(
    args: tuple[str, ...], cwd: Path | None, env: dict[str, str] | None, input: str | None
) -> subprocess.CompletedProcess[str]:
    from typer.testing import CliRunner

    from opsbook.cli import full_app

    here = os.getcwd()
    os.chdir(cwd or here)
    try:
        result = CliRunner().invoke(
            full_app(),
            list(args),
            input=input,
            env={"NO_COLOR": "1", "COLUMNS": "200", **(env or {})},
            catch_exceptions=False,
        )
    finally:
        os.chdir(here)
    return subprocess.CompletedProcess(
        ["opsbook", *args], result.exit_code, result.stdout, result.stderr
    )
