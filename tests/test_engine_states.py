"""The state machine: the transition table, guarded status writes, and an abort that races the
executor's next state write (forced, not hoped for) is never lost."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from engine_support import project
from opsbook.engine import states
from opsbook.engine.observe import RunEvent
from opsbook.engine.states import EventType, RunStatus, StepStatus
from opsbook.errors import StateMoved
from opsbook.plan import make_plan
from opsbook.spec.loader import load_spec
from opsbook.store import Store, open_store, schema
from opsbook.store import runs as q


def test_final_states_have_no_way_out_and_every_other_state_can_end() -> None:
    for status in states.FINISHED:
        assert not states.RUN_TRANSITIONS[status]
    for status in states.ACTIVE:
        reachable, frontier = {status}, [status]
        while frontier:
            for nxt in states.RUN_TRANSITIONS[frontier.pop()]:
                if nxt not in reachable:
                    reachable.add(nxt)
                    frontier.append(nxt)
        assert reachable & states.FINISHED, status
    assert set(states.RUN_TRANSITIONS) == set(RunStatus)
    assert set(states.STEP_TRANSITIONS) == set(StepStatus)


def test_a_move_the_table_does_not_allow_is_a_programming_error() -> None:
    with pytest.raises(states.IllegalTransition, match="from succeeded to running"):
        states.check_run({RunStatus.SUCCEEDED}, RunStatus.RUNNING)
    with pytest.raises(states.IllegalTransition, match="from skipped to running"):
        states.check_step({StepStatus.SKIPPED, StepStatus.PENDING}, StepStatus.RUNNING)
    states.check_run({RunStatus.ABORTING}, RunStatus.ABORTING)  # writing a state again is fine


def _store_with_run(url: str, status: RunStatus) -> Store:
    store = open_store(url)
    now = time.time()
    with store.begin() as conn:
        conn.execute(
            insert(schema.runs).values(
                id="r1",
                project="p",
                runbook="rb",
                environment="local",
                params={},
                status=status,
                operator="ana",
                spec_path="opsbook.yaml",
                spec_text="",
                spec_sha256="",
                created_at=now,
                updated_at=now,
            )
        )
        conn.execute(insert(schema.steps).values(run_id="r1", step_id="s1", status="pending"))
    return store


@pytest.mark.store
def test_a_status_write_fails_loudly_when_the_state_moved(store_url: str) -> None:
    store = _store_with_run(store_url, RunStatus.ABORTING)
    try:
        with pytest.raises(StateMoved) as moved, store.begin() as conn:
            q.transition(conn, "r1", from_={RunStatus.RUNNING}, to=RunStatus.WAITING)
        assert moved.value.current == RunStatus.ABORTING
        assert "is aborting now, not running: it cannot become waiting" in str(moved.value)
        moving = pytest.raises(StateMoved, match="step s1 is pending now, not running")
        with moving, store.begin() as conn:
            q.step_transition(conn, "r1", "s1", from_={StepStatus.RUNNING}, to=StepStatus.SUCCEEDED)
        with pytest.raises(ValueError, match="transition"), store.begin() as conn:
            q.set_run(conn, "r1", status="waiting")
        with store.begin() as conn:
            status = conn.execute(select(schema.runs.c.status)).scalar_one()
            q.transition(conn, "r1", from_={RunStatus.ABORTING}, to=RunStatus.ABORTED)
        assert status == RunStatus.ABORTING  # the failed writes changed nothing
    finally:
        store.close()


GATED = """\
version: 1
project: race
environments: {local: {}}
runbooks:
  release:
    lock: false
    steps:
      - {id: build, run: echo built >> side.txt, rollback: echo unbuilt >> side.txt}
      - {id: window, needs: [build], gate: On-call engineer is aware}
"""


@pytest.mark.store
@pytest.mark.parametrize("moment", [EventType.GATE_WAITING, EventType.STEP_SUCCEEDED])
def test_an_abort_committed_after_the_executor_decided_is_never_lost(
    tmp_path: Path, store_url: str, moment: EventType
) -> None:
    """The abort commits in the executor's own thread right after it decided what comes next
    (pause at the gate, or finish), before it writes that: the guarded write must see it."""
    from opsbook.engine import abort, start_run

    yaml = GATED if moment == EventType.GATE_WAITING else GATED.split("      - {id: window")[0]
    root = project(tmp_path, yaml)
    store = open_store(store_url)
    aborted: list[str] = []

    def observer(event: RunEvent) -> None:
        if event.type == moment and not aborted:
            # A live lease: abort only marks the run; the executor must notice by itself.
            requested = abort(store, event.run_id, operator="bob")
            aborted.append(requested.status)

    try:
        plan = make_plan(load_spec(root / "opsbook.yaml"), "release", "local", {})
        outcome = start_run(store, plan, observer=observer)
        assert aborted == [RunStatus.ABORTING]
        assert outcome.status == RunStatus.ABORTED, outcome.message
        assert (root / "side.txt").read_text().split() == ["built", "unbuilt"]
        with store.begin() as conn:
            run = q.get_run(conn, outcome.run_id)
            kinds = [
                e.type
                for e in conn.execute(select(schema.events).where(schema.events.c.run_id == run.id))
            ]
        assert run.status == RunStatus.ABORTED and run.lock_key is None
        assert EventType.RUN_PAUSED not in kinds
        assert kinds.index(EventType.ABORT_REQUESTED) < kinds.index(EventType.ROLLBACK_STARTED)
    finally:
        store.close()


@pytest.mark.store
def test_the_plan_is_the_engines_input_and_its_spec_text_is_what_the_run_stores(
    tmp_path: Path, store_url: str
) -> None:
    """Editing opsbook.yaml between planning and starting changes nothing: the run executes
    and stores the text the plan was made from, read once."""
    from opsbook.engine import start_run

    root = project(tmp_path, GATED.split("      - {id: window")[0])
    planned = (root / "opsbook.yaml").read_text()
    plan = make_plan(load_spec(root / "opsbook.yaml"), "release", "local", {})
    (root / "opsbook.yaml").write_text(planned.replace("echo built", "echo edited"))
    store = open_store(store_url)
    try:
        outcome = start_run(store, plan)
        with store.begin() as conn:
            run = q.get_run(conn, outcome.run_id)
    finally:
        store.close()
    assert outcome.status == RunStatus.SUCCEEDED, outcome.message
    assert run.spec_text == planned
    assert (root / "side.txt").read_text().split() == ["built"]
