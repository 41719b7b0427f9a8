"""The store on SQLite and PostgreSQL: migrations, the environment lock, the event chain.

Marked ``store``: each test that uses ``store_url`` runs on both backends (``[sqlite]`` and
``[postgresql]``, see conftest), so both pass the same tests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import insert, select, text, update
from sqlalchemy.exc import IntegrityError

from conftest import run_cli
from opsbook.errors import StoreVersionError, UsageError
from opsbook.store import Store, events, migrations, schema
from opsbook.store.database import default_url, normalize_url

pytestmark = pytest.mark.store
Opener = Callable[[str], Store]


def _run_row(run_id: str, lock_key: str | None) -> dict[str, object]:
    now = time.time()
    return {
        "id": run_id,
        "project": "shop",
        "runbook": "release",
        "environment": "local",
        "params": {"version": "2"},
        "status": "running",
        "operator": "ana",
        "spec_path": "opsbook.yaml",
        "spec_text": "version: 1",
        "spec_sha256": "0" * 64,
        "created_at": now,
        "updated_at": now,
        "lock_key": lock_key,
    }


def test_migrations_are_recorded_and_idempotent(store_url: str, stores: Opener) -> None:
    store = stores(store_url)
    with store.begin() as conn:
        assert migrations.current_version(conn) == migrations.LATEST
        assert migrations.migrate(conn) == migrations.LATEST  # nothing left to apply
        rows = conn.execute(select(schema.schema_version)).all()
    assert [r.version for r in rows] == [v for v, _, _ in migrations.MIGRATIONS]
    stores(store_url)  # reopening an up-to-date store changes nothing


def test_newer_store_is_refused(store_url: str, stores: Opener) -> None:
    store = stores(store_url)
    with store.begin() as conn:
        conn.execute(
            insert(schema.schema_version).values(version=999, applied_at=0.0, description="future")
        )
    with pytest.raises(StoreVersionError, match="schema version 999"):
        stores(store_url)


def test_one_active_run_per_environment_is_enforced_by_the_database(
    store_url: str, stores: Opener
) -> None:
    store = stores(store_url)
    with store.begin() as conn:
        conn.execute(insert(schema.runs).values(**_run_row("r1", "local")))
        conn.execute(insert(schema.runs).values(**_run_row("r2", None)))  # read-only run
    with pytest.raises(IntegrityError), store.begin() as conn:
        conn.execute(insert(schema.runs).values(**_run_row("r3", "local")))
    with store.begin() as conn:  # releasing the lock frees the environment
        conn.execute(update(schema.runs).where(schema.runs.c.id == "r1").values(lock_key=None))
        conn.execute(insert(schema.runs).values(**_run_row("r3", "local")))


def test_event_chain_detects_edit_delete_and_truncation(store_url: str, stores: Opener) -> None:
    store = stores(store_url)
    with store.begin() as conn:
        for i in range(5):
            events.append(
                conn, "step_succeeded", run_id="r1", step_id=f"s{i}", actor="ana", data={"i": i}
            )
        assert events.verify(conn).ok
        assert events.verify(conn).checked == 5
    with store.begin() as conn:
        conn.execute(update(schema.events).where(schema.events.c.seq == 3).values(data='{"i":99}'))
        report = events.verify(conn)
    assert not report.ok
    assert any("event 3" in p and "edited" in p for p in report.problems)
    with store.begin() as conn:
        conn.execute(update(schema.events).where(schema.events.c.seq == 3).values(data='{"i":2}'))
        assert events.verify(conn).ok
        conn.execute(schema.events.delete().where(schema.events.c.seq == 5))
        report = events.verify(conn)
    assert any("ends at 4" in p for p in report.problems)


def test_concurrent_appends_never_fork_the_chain(store_url: str, stores: Opener) -> None:
    """Eight threads with their own connections append at once; the chain stays linear."""
    store = stores(store_url)

    def worker(n: int) -> None:
        for i in range(10):
            with store.begin() as conn:
                events.append(conn, "tick", run_id=f"r{n}", actor="t", data={"i": i})

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    with store.begin() as conn:
        report = events.verify(conn)
        seqs = conn.execute(select(schema.events.c.seq).order_by(schema.events.c.seq)).scalars()
        assert list(seqs) == list(range(1, 81))
    assert report.ok, report.problems


def test_sqlite_default_is_wal_beside_the_spec(tmp_path: Path, stores: Opener) -> None:
    url = default_url(tmp_path)
    assert url.endswith(".opsbook/state.db")
    store = stores(url)
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    assert (tmp_path / ".opsbook" / "state.db").is_file()


def test_url_normalisation_and_bad_urls() -> None:
    assert normalize_url("postgresql://u@h/db").startswith("postgresql+psycopg://")
    with pytest.raises(UsageError, match="unsupported store backend"):
        normalize_url("mysql://u@h/db")
    with pytest.raises(UsageError, match="not a database URL"):
        normalize_url("not a url")


def test_verify_log_cli_detects_a_hand_edited_row(
    tmp_path: Path, store_url: str, stores: Opener
) -> None:
    (tmp_path / "opsbook.yaml").write_text("version: 1\nproject: p\n")
    store = stores(store_url)
    with store.begin() as conn:
        for i in range(3):
            events.append(conn, "note", run_id="r1", actor="ana", data={"i": i})
    ok = run_cli("verify-log", "--store", store_url, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "3 events, hash chain verified" in ok.stdout
    with store.begin() as conn:
        conn.execute(update(schema.events).where(schema.events.c.seq == 2).values(actor="mallory"))
    bad = run_cli("verify-log", "--store", store_url, cwd=tmp_path)
    assert bad.returncode == 1
    assert "event 2" in bad.stderr and "edited" in bad.stderr


UNREACHABLE = "postgresql://u:hunter2@127.0.0.1:1/x"  # pragma: allowlist secret


def test_unreachable_store_is_one_clear_line_without_the_password(tmp_path: Path) -> None:
    (tmp_path / "opsbook.yaml").write_text("version: 1\nproject: p\n")
    result = run_cli(
        "runs",
        cwd=tmp_path,
        env={"OPSBOOK_DATABASE_URL": UNREACHABLE},
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: store unavailable (postgresql://u:***@127.0.0.1:1/x)")
    assert "hunter2" not in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_alert_stored_before_version_9_keeps_firing_across_the_upgrade(
    store_url: str, stores: Opener
) -> None:
    """Version 9 re-keys stored alert instances by Prometheus' fingerprint (and adds the band
    columns): an alert firing when opsbook is upgraded is the same instance after it (no
    resolve, no new pending, no page)."""
    from datetime import UTC, datetime

    from opsbook.monitor.evaluate import load_statuses, step_alerts
    from opsbook.monitor.labels import fingerprint, label_digest
    from opsbook.monitor.metrics import Reading
    from opsbook.sources.base import Sample
    from opsbook.spec.loader import validate_text

    spec = validate_text(
        "version: 1\nproject: shop\nsources: {db: {sql: 'sqlite:///x.db'}}\n"
        "metrics: {errors: {from: db, query: 'select 1'}}\n"
        "alerts: {high: {when: errors > 0.5, severity: page}}\n",
        "opsbook.yaml",
    ).spec
    labels = {"alertname": "high", "severity": "page"}
    store = stores(store_url)
    with store.begin() as conn:  # as version 8 stored it: keyed by opsbook's old digest
        conn.execute(
            insert(schema.alert_instances).values(
                project="shop", alert="high", fingerprint=label_digest(labels), labels=labels,
                annotations={}, origin="rule", state="firing", value=1.0, nodata=0,
                active_at=100.0, firing_since=100.0, last_true_at=160.0, evaluated_at=160.0,
            )
        )  # fmt: skip
        conn.execute(schema.schema_version.delete().where(schema.schema_version.c.version == 9))
        for column in ("band_low", "band_high"):  # version 8 had no band columns
            conn.execute(text(f"ALTER TABLE {schema.alert_instances.name} DROP COLUMN {column}"))
    upgraded = stores(store_url)
    stored = load_statuses(upgraded, "shop")
    assert list(stored) == [("high", fingerprint(labels))]
    assert fingerprint(labels) != label_digest(labels)
    now = datetime.fromtimestamp(220.0, UTC)
    readings = {"errors": Reading("errors", [Sample({}, 1.0)])}
    statuses, changes = step_alerts(spec, readings, stored, now)
    assert changes == []
    assert [(s.state.value, s.instance.firing_since) for s in statuses] == [("firing", 100.0)]
    assert stored[("high", fingerprint(labels))].band is None


def test_a_query_cut_by_ctrl_c_is_the_interrupt_not_a_store_error(
    fresh_pg_url: str, stores: Opener, caplog: pytest.LogCaptureFixture
) -> None:
    """A Ctrl-C between sending a query and reading its answer leaves the connection busy, and
    the rollback fails ("another command is already in progress"). That was raised as a store
    error: the step being recorded failed and the release was rolled back, where a Ctrl-C must
    only stop the run. It is the interrupt; the connection is dropped, not reset (no traceback
    logged), and the store works on."""
    store = stores(fresh_pg_url)
    with pytest.raises(KeyboardInterrupt), store.begin() as conn:
        busy = conn.connection.driver_connection
        busy.pgconn.send_query(b"SELECT pg_sleep(0.1)")  # sent; its answer is never read
        raise KeyboardInterrupt  # what the signal handler raises at that point
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
    with store.begin() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1


def test_a_ctrl_c_inside_the_pools_check_is_the_interrupt_not_a_store_error(
    fresh_pg_url: str, stores: Opener, caplog: pytest.LogCaptureFixture
) -> None:
    """Before each use, SQLAlchemy checks a pooled PostgreSQL connection with ``SELECT 1`` in
    autocommit. A Ctrl-C between sending that query and reading its answer leaves the connection
    busy; the check's ``finally`` then fails to switch autocommit back, and its error ("can't
    change 'autocommit' now") replaced the interrupt. Seen in the Ctrl-C run test: the step
    being recorded failed and the release was rolled back. The interrupt is raised; the
    connection is dropped and the store works on."""
    import psycopg

    store = stores(fresh_pg_url)
    with store.begin() as conn:  # the connection goes back to the pool, to be checked next time
        pooled = conn.connection.driver_connection

    class CutWhileSending(psycopg.Cursor):  # type: ignore[type-arg]
        def execute(self, *args: object, **kwargs: object) -> CutWhileSending:
            self.connection.pgconn.send_query(b"SELECT 1")  # sent; its answer is never read
            raise KeyboardInterrupt  # what the signal handler raises at that point

    pooled.cursor_factory = CutWhileSending
    with pytest.raises(KeyboardInterrupt), store.begin():
        pass
    assert pooled.closed
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
    with store.begin() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1


def test_a_store_error_while_a_ctrl_c_is_handled_stays_a_store_error(
    store_url: str, stores: Opener
) -> None:
    """A run records its interruption while it handles the Ctrl-C; a store that fails then
    fails as itself, not as a second interrupt."""
    from sqlalchemy.exc import DatabaseError

    from opsbook.errors import StoreError

    store = stores(store_url)
    failure: BaseException | None = None
    try:
        raise KeyboardInterrupt
    except KeyboardInterrupt:
        try:
            with store.begin() as conn:
                conn.execute(text("SELECT * FROM no_such_table"))
        except BaseException as err:  # a second interrupt must fail the test, not stop pytest
            failure = err
    assert isinstance(failure, DatabaseError | StoreError), repr(failure)
    assert "no_such_table" in str(failure)
    with store.begin() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1


def test_a_transaction_an_interrupt_abandoned_is_rolled_back_once_its_frames_are_gone(
    fresh_pg_url: str, stores: Opener
) -> None:
    """A signal can land as a ``with`` block calls its ``__exit__``, so the transaction is never
    ended: the interrupt's traceback holds it, and on PostgreSQL it holds the rows it wrote (an
    interrupted run then waited for ever to record that it stopped, seen twice in about 500
    trials). The executor records an interruption only once the traceback is gone: then the
    transaction is rolled back and the row is free."""
    import gc

    from sqlalchemy.exc import OperationalError

    store, other = stores(fresh_pg_url), stores(fresh_pg_url)
    runs = schema.runs
    with store.begin() as conn:
        conn.execute(insert(runs).values(**_run_row("r1", None)))

    def cut_between_its_writes_and_its_end() -> None:
        block = store.begin()
        conn = block.__enter__()
        conn.execute(update(runs).where(runs.c.id == "r1").values(operator="cut"))
        raise KeyboardInterrupt  # before block.__exit__ could run

    def row_is_locked() -> bool:
        with other.engine.connect() as conn:
            conn.exec_driver_sql("SET lock_timeout = '200ms'")
            try:
                conn.execute(update(runs).where(runs.c.id == "r1").values(operator="next"))
            except OperationalError:
                return True
            conn.rollback()
            return False

    try:
        cut_between_its_writes_and_its_end()
    except KeyboardInterrupt:
        assert row_is_locked()  # while the interrupt is handled, its traceback keeps the block
    gc.collect()
    assert not row_is_locked()
    with other.begin() as conn:
        assert conn.execute(select(runs.c.operator).where(runs.c.id == "r1")).scalar() == "ana"
