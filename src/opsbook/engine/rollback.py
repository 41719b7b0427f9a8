"""Rollback: the ``rollback`` commands of completed steps in reverse order of completion,
never across an irreversible step (there it stops and says what stays done).

A rollback is checkpointed like a step (an attempt row with phase ``rollback``, events), so a
crash during it is continued by ``opsbook resume``; a rollback that was in flight runs again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from opsbook.engine.attempts import StepHost
from opsbook.engine.output import CappedOutput
from opsbook.engine.states import EventType, Phase, StepStatus
from opsbook.errors import OpsbookError
from opsbook.plan import changes_things
from opsbook.spec.models import Step
from opsbook.steps.base import StepResult
from opsbook.steps.registry import get_kind
from opsbook.steps.run import run_template
from opsbook.store import events as chain
from opsbook.store import integrity
from opsbook.store import runs as q

if TYPE_CHECKING:
    from opsbook.spec.loader import LoadedSpec


class StepRecord(Protocol):
    """What a rollback reads and updates of a step's state."""

    status: StepStatus
    result: dict[str, Any]
    finished_at: float | None


class Undoer(StepHost, Protocol):
    """What a rollback needs from the executor holding the run (the executor is one)."""

    order: list[str]
    by_id: dict[str, Step]
    rollback_cancel: threading.Event
    """Set when the lease is lost or an operator aborts: stops the rollback command in flight."""

    @property
    def state(self) -> Mapping[str, StepRecord]: ...
    @property
    def loaded(self) -> LoadedSpec: ...
    @property
    def owner(self) -> str: ...
    @property
    def operator(self) -> str: ...
    def txn(self, now: float | None = None) -> AbstractContextManager[Any]: ...


def undo(ex: Undoer) -> dict[str, Any]:
    """Run the rollbacks of completed steps, newest first, stopping at an irreversible one."""
    undoable = (StepStatus.SUCCEEDED, StepStatus.ROLLING_BACK)
    done = [sid for sid in ex.order if ex.state[sid].status in undoable]
    done.sort(key=lambda sid: ex.state[sid].finished_at or 0.0, reverse=True)
    summary: dict[str, Any] = {
        "rolled_back": [sid for sid in ex.order if ex.state[sid].status == StepStatus.ROLLED_BACK],
        "no_rollback": [],
        "not_rolled_back": [],
        "stopped_at": None,
        "rollback_failed": None,
        "interrupted": [
            sid
            for sid in ex.order
            if ex.state[sid].status in (StepStatus.RUNNING, StepStatus.INTERRUPTED)
        ],
    }

    def mattering(sids: list[str]) -> list[str]:
        # Read-only steps (checks, lint) have nothing to undo: leave them out of the report.
        return [s for s in sids if changes_things(ex.by_id[s]) or ex.by_id[s].rollback]

    for i, sid in enumerate(done):
        step = ex.by_id[sid]
        st = ex.state[sid]
        if st.result.get("irreversible"):
            summary["stopped_at"] = sid
            summary["not_rolled_back"] = mattering(done[i:])
            ex.emit(
                EventType.ROLLBACK_STOPPED,
                sid,
                reason="irreversible",
                not_rolled_back=summary["not_rolled_back"],
            )
            break
        if not step.rollback and not get_kind(step.kind).can_roll_back(step.config, ex.loaded.spec):
            if changes_things(step):
                summary["no_rollback"].append(sid)
            continue
        if not rollback_step(ex, step):
            summary["rollback_failed"] = sid
            summary["cancelled"] = ex.rollback_cancel.is_set()
            summary["not_rolled_back"] = mattering(done[i:])
            break
        summary["rolled_back"].append(sid)
    return summary


def rollback_step(ex: Undoer, step: Step) -> bool:
    """Run one step's rollback (its command, or its kind's own), checkpointed like a step."""
    render = ex.inputs.renderer()
    kind = get_kind(step.kind)
    command = render(step.rollback) if step.rollback else f"built-in {kind.name} rollback"
    output = CappedOutput()
    now = time.time()
    with ex.txn(now) as conn:
        attempt = q.next_attempt(conn, ex.run_id, step.id, Phase.ROLLBACK)
        q.step_transition(
            conn,
            ex.run_id,
            step.id,
            from_={StepStatus.SUCCEEDED, StepStatus.ROLLING_BACK},
            to=StepStatus.ROLLING_BACK,
        )
        q.insert_attempt(
            conn,
            run_id=ex.run_id,
            step_id=step.id,
            phase=Phase.ROLLBACK,
            attempt=attempt,
            status=StepStatus.RUNNING,
            started_at=now,
            owner=ex.owner,
        )
        chain.append(
            conn,
            EventType.ROLLBACK_STEP_STARTED,
            run_id=ex.run_id,
            step_id=step.id,
            actor=ex.operator,
            data={"command": ex.masker(command)},
        )
    ex.state[step.id].status = StepStatus.ROLLING_BACK
    ex.emit(EventType.ROLLBACK_STEP_STARTED, step.id, action=ex.masker(command))
    exit_code, ok = _run_rollback(ex, step, attempt, render, output)
    _finish_rollback(ex, step, attempt, output, exit_code=exit_code, ok=ok, started=now)
    return ok


def _run_rollback(
    ex: Undoer, step: Step, attempt: int, render: Callable[[str], str], output: CappedOutput
) -> tuple[int | None, bool]:
    """The rollback command (or the kind's own rollback): its exit code and whether it worked.
    It stops when ``ex.rollback_cancel`` is set."""
    kind = get_kind(step.kind)
    env = ex.inputs.process_env(step, render)
    env["OPSBOOK_OUTPUT"] = str(ex.workdir / f"{step.id}.rollback.out")
    if step.rollback:
        cwd = ex.loaded.root / step.dir if step.dir else ex.loaded.root
        result = run_template(
            step.rollback,
            render,
            cwd=cwd,
            env=env,
            log=ex.inputs.logger(step.id, output),
            timeout=step.timeout,
            cancelled=ex.rollback_cancel,
            secrets=ex.masker.secrets,
        )
        Path(env["OPSBOOK_OUTPUT"]).unlink(missing_ok=True)
        if result.error:
            ex.inputs.logger(step.id, output)(result.error)
        return result.exit_code, result.exit_code == 0 and not result.timed_out and not result.error
    else:
        ctx = ex.inputs.step_context(step, attempt, env, render, output)
        ctx.cancelled = ex.rollback_cancel
        try:
            undone = kind.rollback(
                ctx, step.config, dict(ex.state[step.id].result.get("data") or {})
            )
        except OpsbookError as err:
            undone = StepResult(ok=False, message=str(err))
        except Exception as err:  # a kind's bug fails the rollback, not the executor
            undone = StepResult(ok=False, message=f"{type(err).__name__}: {err}")
        if undone.message:
            ctx.log(undone.message)
    return undone.exit_code, undone.ok


def _finish_rollback(
    ex: Undoer,
    step: Step,
    attempt: int,
    output: CappedOutput,
    *,
    exit_code: int | None,
    ok: bool,
    started: float,
) -> None:
    status = StepStatus.ROLLED_BACK if ok else StepStatus.ROLLBACK_FAILED
    event = EventType.STEP_ROLLED_BACK if ok else EventType.STEP_ROLLBACK_FAILED
    end = time.time()
    with ex.txn(end) as conn:
        q.finish_attempt(
            conn,
            ex.run_id,
            step.id,
            Phase.ROLLBACK,
            attempt,
            status=StepStatus.SUCCEEDED if ok else StepStatus.FAILED,
            finished_at=end,
            exit_code=exit_code,
            output=output.text(),
        )
        q.step_transition(conn, ex.run_id, step.id, from_={StepStatus.ROLLING_BACK}, to=status)
        chain.append(
            conn,
            event,
            run_id=ex.run_id,
            step_id=step.id,
            actor=ex.operator,
            data={"exit_code": exit_code, **integrity.attempt_seal(attempt, output.text())},
        )
    ex.state[step.id].status = status
    ex.emit(
        event,
        step.id,
        duration=end - started,
        exit_code=exit_code,
        tail=output.tail(5),
    )


def message(reason: str, summary: dict[str, Any]) -> str:
    """What was rolled back, what stays done and why, in one line."""
    parts = [reason]
    if summary["rolled_back"]:
        parts.append("rolled back: " + ", ".join(summary["rolled_back"]))
    if summary["stopped_at"]:
        parts.append(
            f"NOT rolled back past irreversible step {summary['stopped_at']}:"
            f" {', '.join(summary['not_rolled_back'])} stay done; roll forward (fix and run"
            " again) instead"
        )
    if summary["rollback_failed"]:
        how = "was cancelled" if summary.get("cancelled") else "failed"
        parts.append(
            f"rollback of {summary['rollback_failed']} {how}; not rolled back: "
            + ", ".join(summary["not_rolled_back"])
        )
    if summary["no_rollback"]:
        parts.append("no rollback defined for: " + ", ".join(summary["no_rollback"]))
    if summary.get("interrupted"):
        parts.append("interrupted, state unknown: " + ", ".join(summary["interrupted"]))
    return "; ".join(parts)
