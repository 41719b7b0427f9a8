"""The executor's hot statements on the driver's cursor (opsbook.store.driver), on both backends.

They bypass SQLAlchemy's statement layer for speed; these tests pin down that what they write
reads back through SQLAlchemy exactly as before, that the event chain they build verifies, and
that driver errors still reach the one translation boundary.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import DBAPIError

from opsbook.engine.states import StepStatus
from opsbook.errors import LeaseLost
from opsbook.store import Store, driver, events, schema
from opsbook.store import runs as q

pytestmark = pytest.mark.store
Opener = Callable[[str], Store]


def _run(store: Store, run_id: str = "r1", owner: str = "me") -> None:
    now = time.time()
    with store.begin() as conn:
        conn.execute(
            insert(schema.runs).values(
                id=run_id,
                project="p",
                runbook="release",
                environment="local",
                params={},
                status="running",
                operator="ana",
                spec_path="opsbook.yaml",
                spec_text="version: 1",
                spec_sha256="0" * 64,
                created_at=now,
                updated_at=now,
                lease_owner=owner,
            )
        )
        conn.execute(
            insert(schema.steps).values(run_id=run_id, step_id="s1", status="pending", attempts=0)
        )


def test_step_and_attempt_writes_read_back_through_sqlalchemy(
    store_url: str, stores: Opener
) -> None:
    store = stores(store_url)
    _run(store)
    with store.begin() as conn:
        q.fence(conn, "r1", "me", 5.0)
        q.step_transition(
            conn,
            "r1",
            "s1",
            from_={StepStatus.PENDING},
            to=StepStatus.RUNNING,
            attempts=1,
            started_at=1.5,
            owner="me",
        )
        q.insert_attempt(
            conn,
            run_id="r1",
            step_id="s1",
            phase="execute",
            attempt=1,
            status="running",
            started_at=1.5,
            owner="me",
        )
    with store.begin() as conn:
        q.finish_attempt(
            conn, "r1", "s1", "execute", 1, status="succeeded", output="ok\n", exit_code=0
        )
        q.step_transition(
            conn,
            "r1",
            "s1",
            from_={StepStatus.RUNNING},
            to=StepStatus.SUCCEEDED,
            outputs={"version": "2", "ünï": "ç"},
            result={"message": "", "data": {"n": [1, 2.5, None, True]}},
        )
    with store.begin() as conn:
        step = q.get_step(conn, "r1", "s1")
        attempt = q.step_attempts(conn, "r1")[0]
        run = q.get_run(conn, "r1")
    assert (step.status, step.attempts, step.started_at, step.owner) == ("succeeded", 1, 1.5, "me")
    assert step.outputs == {"version": "2", "ünï": "ç"}
    assert step.result == {"message": "", "data": {"n": [1, 2.5, None, True]}}
    assert (attempt.status, attempt.output, attempt.exit_code) == ("succeeded", "ok\n", 0)
    assert run.updated_at == 5.0


def test_fence_refuses_a_writer_that_lost_the_lease(store_url: str, stores: Opener) -> None:
    store = stores(store_url)
    _run(store, owner="other")
    with pytest.raises(LeaseLost), store.begin() as conn:
        q.fence(conn, "r1", "me", time.time())


def test_events_appended_together_chain_like_events_appended_one_by_one(
    store_url: str, stores: Opener
) -> None:
    store = stores(store_url)
    _run(store)
    with store.begin() as conn:
        first = events.append(conn, "a", run_id="r1", actor="ana", data={"k": 1}, at=1.0)
        last = events.append_many(
            conn,
            [
                events.NewEvent("b", "ana", "r1", "s1", {"k": 2}, 2.0),
                events.NewEvent("c", "ana", "r1", "s1", {"k": "ü"}, 3.0),
            ],
        )
        assert events.append_many(conn, []) == last  # nothing to append moves nothing
    assert last == first + 2
    with store.begin() as conn:
        rows = conn.execute(select(schema.events).order_by(schema.events.c.seq)).all()
        report = events.verify(conn)
    assert report.ok, report.problems
    assert [r.type for r in rows[-3:]] == ["a", "b", "c"]
    assert rows[-1].prev_hash == rows[-2].hash and rows[-2].prev_hash == rows[-3].hash
    expected = events.event_hash(
        rows[-2].hash, last, "r1", "s1", "c", 3.0, "ana", events.canonical({"k": "ü"})
    )
    assert rows[-1].hash == expected


def test_driver_errors_become_sqlalchemy_errors(store_url: str, stores: Opener) -> None:
    store = stores(store_url)
    with pytest.raises(DBAPIError), store.engine.begin() as conn:
        driver.execute(conn, "UPDATE opsbook_no_such_table SET x = :x", {"x": 1})
    with pytest.raises(DBAPIError), store.engine.begin() as conn:
        driver.fetch_one(conn, "SELECT x FROM opsbook_no_such_table", {})


def test_only_the_tables_columns_become_sql() -> None:
    with pytest.raises(ValueError, match="no column"):
        driver.update_sql(schema.steps, ["status; DROP TABLE x"], ["run_id"])


def test_a_sequential_run_on_sqlite_checks_out_a_connection_a_handful_of_times(
    tmp_path: Path,
) -> None:
    """The scheduler keeps one SQLite connection for its checkpoints: 30 steps take a few pool
    checkouts (the run's creation, reads, the heartbeat), not two per step, and every step's
    writes still land."""
    from sqlalchemy import event

    from engine_support import project
    from opsbook.engine import start_run
    from opsbook.plan import make_plan
    from opsbook.spec.loader import load_spec
    from opsbook.store import open_store

    steps = "".join(f"      - {{id: s{i}, run: 'true'}}\n" for i in range(30))
    root = project(
        tmp_path,
        f"version: 1\nproject: p\nenvironments: {{local: {{}}}}\n"
        f"runbooks:\n  seq:\n    steps:\n{steps}",
    )
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    checkouts: list[int] = []
    event.listen(store.engine.pool, "checkout", lambda *_: checkouts.append(1))
    try:
        plan = make_plan(load_spec(root / "opsbook.yaml"), "seq", "local", {})
        outcome = start_run(store, plan)
        assert outcome.status == "succeeded", outcome.message
        with store.begin() as conn:
            statuses = q.get_steps(conn, outcome.run_id)
        assert {s.status for s in statuses.values()} == {StepStatus.SUCCEEDED}
        assert len(statuses) == 30
        assert len(checkouts) < 15, len(checkouts)
    finally:
        store.close()
