"""No opsbook command waits for ever on a lock another transaction holds.

SQLite's busy timeout and PostgreSQL's ``lock_timeout`` both come from
``$OPSBOOK_STORE_LOCK_WAIT`` (default 30 s). A transaction left open (a ``psql`` session, a
process stopped in a debugger) makes a command fail with one clear line after that wait,
instead of hanging; on PostgreSQL there was no limit before. The locks are real: a second
connection of the test's own holds them.
"""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from engine_support import cli, only_run, popen, project, step_status
from opsbook.store import open_store
from opsbook.store.database import normalize_url
from waiting import wait_until

pytestmark = pytest.mark.store

RELEASE = """\
version: 1
project: locked
environments: {local: {}}
runbooks:
  release:
    steps:
      - id: deploy
        idempotent: true
        run: if [ -f started ]; then echo again >> side.txt; else touch started; sleep 30; fi
      - {id: done, run: echo done >> side.txt}
"""

WAIT = {"OPSBOOK_STORE_LOCK_WAIT": "1"}
DOC = Path(__file__).resolve().parent.parent / "docs" / "run.md"


def _as_documented(store_url: str) -> re.Pattern[str]:
    """docs/run.md's example of the message, for a wait of 1 s on this store: its URL stands
    for any, and on SQLite the driver's reason is SQLite's."""
    (line,) = [
        t.strip() for t in DOC.read_text().splitlines() if t.strip().startswith("error: the store")
    ]
    pattern = re.escape(line.replace("locked for 30 s", "locked for 1 s"))
    pattern = pattern.replace(re.escape("(postgresql://ops@db/opsbook)"), r"\([^)]+\)")
    if store_url.startswith("sqlite"):
        pg_reason = re.escape("(canceling statement due to lock timeout)")
        pattern = pattern.replace(pg_reason, re.escape("(database is locked)"))
    return re.compile(pattern)


@contextmanager
def _held(store_url: str, run_id: str | None = None) -> Iterator[None]:
    """Hold what an opsbook write needs: SQLite's write lock (BEGIN IMMEDIATE), or on
    PostgreSQL the event chain's head row (every write appends an event) and the run's row."""
    engine = create_engine(normalize_url(store_url))
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.execute(text("SELECT 1 FROM opsbook_chain FOR UPDATE"))
                if run_id is not None:
                    query = "SELECT 1 FROM opsbook_runs WHERE id = :id FOR UPDATE"
                    conn.execute(text(query), {"id": run_id})
            try:
                yield
            finally:
                conn.rollback()
    finally:
        engine.dispose()


@pytest.mark.timeout(60)
def test_a_command_waiting_on_a_held_lock_fails_clearly_then_works_once_it_is_let_go(
    tmp_path: Path, store_url: str
) -> None:
    root = project(tmp_path, RELEASE.replace("sleep 30", "true"))
    open_store(store_url).close()  # migrated before the lock is taken
    with _held(store_url):
        started = time.monotonic()
        blocked = cli(root, store_url, "run", "release", "--env", "local", **WAIT)
        waited = time.monotonic() - started
    assert blocked.returncode == 1, blocked.stdout + blocked.stderr
    assert blocked.stderr.startswith("error: the store stayed locked for 1 s"), blocked.stderr
    assert _as_documented(store_url).fullmatch(blocked.stderr.strip()), blocked.stderr
    assert "OPSBOOK_STORE_LOCK_WAIT" in blocked.stderr
    assert "Traceback" not in blocked.stderr
    assert waited < 20  # one wait, not for ever (the bound only catches a hang)
    assert not (root / "side.txt").exists()  # nothing ran
    done = cli(root, store_url, "run", "release", "--env", "local", **WAIT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (root / "side.txt").read_text().split() == ["done"]


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_ctrl_c_while_another_transaction_holds_the_run_fails_clearly_and_resume_continues(
    tmp_path: Path, store_url: str
) -> None:
    root = project(tmp_path, RELEASE)
    proc = popen(root, store_url, "run", "release", "--env", "local", **WAIT)
    wait_until(lambda: (root / "started").exists(), what="the step to start")
    run = only_run(store_url)
    with _held(store_url, run.id):
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, out + err
    assert "the store stayed locked for 1 s" in err, err
    assert "Traceback" not in err
    assert not (root / "side.txt").exists()
    # The interruption could not be recorded; the process that held the run is gone, so
    # resume takes it over at once and reruns the idempotent step.
    done = cli(root, store_url, "resume", run.id, **WAIT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (root / "side.txt").read_text().split() == ["again", "done"]
    assert set(step_status(store_url, run.id).values()) == {"succeeded"}


def _setting(store_url: str, name: str) -> Any:
    """The value of a setting on a connection of a store opened with the current environment."""
    store = open_store(store_url)
    try:
        with store.begin() as conn:
            if store.dialect == "sqlite":
                return conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            return conn.exec_driver_sql(f"SHOW {name}").scalar()
    finally:
        store.close()


def test_the_wait_is_set_on_every_connection_and_a_users_own_setting_wins(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPSBOOK_STORE_LOCK_WAIT", raising=False)
    monkeypatch.delenv("PGOPTIONS", raising=False)
    if store_url.startswith("sqlite"):
        assert _setting(store_url, "busy_timeout") == 30000
        monkeypatch.setenv("OPSBOOK_STORE_LOCK_WAIT", "2.5")
        assert _setting(store_url, "busy_timeout") == 2500
        return
    assert _setting(store_url, "lock_timeout") == "30s"
    # The URL's own options and $PGOPTIONS still apply (a connection argument would have
    # replaced them), and a lock_timeout given there is the one used.
    with_options = store_url + "?options=-c%20lock_timeout%3D7s"
    assert _setting(with_options, "lock_timeout") == "7s"
    monkeypatch.setenv("PGOPTIONS", "-c statement_timeout=12345")
    assert _setting(store_url, "statement_timeout") == "12345ms"
    monkeypatch.setenv("OPSBOOK_STORE_LOCK_WAIT", "2")
    assert _setting(store_url, "lock_timeout") == "2s"


@pytest.mark.parametrize("value", ["abc", "0", "-5", "nan", "inf", "1e9", "30s", "\x1b[31m"])
def test_a_wait_that_is_not_a_number_of_seconds_is_refused_by_name(
    tmp_path: Path, store_url: str, value: str
) -> None:
    root = project(tmp_path, RELEASE)
    result = cli(root, store_url, "runs", OPSBOOK_STORE_LOCK_WAIT=value)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("error: OPSBOOK_STORE_LOCK_WAIT="), result.stderr
    assert "Traceback" not in result.stderr
    assert "\x1b" not in result.stderr
