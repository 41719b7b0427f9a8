"""Rollback: the ``rollback`` commands of completed steps in reverse order of completion,
never across an irreversible step (there it stops and says what stays done).

A rollback is checkpointed like a step (an attempt row with phase ``rollback``, events), so a
crash during it is continued by ``opsbook resume``; a rollback that was in flight runs again.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opsbook.engine.output import CappedOutput
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
    from opsbook.engine.runner import Executor


def undo(ex: Executor) -> dict[str, Any]:
    """Run the rollbacks of completed steps, newest first, stopping at an irreversible one."""
    done = [sid for sid in ex.order if ex.state[sid].status in ("succeeded", "rolling_back")]
    done.sort(key=lambda sid: ex.state[sid].finished_at or 0.0, reverse=True)
    summary: dict[str, Any] = {
        "rolled_back": [sid for sid in ex.order if ex.state[sid].status == "rolled_back"],
        "no_rollback": [],
        "not_rolled_back": [],
        "stopped_at": None,
        "rollback_failed": None,
        "interrupted": [
            sid for sid in ex.order if ex.state[sid].status in ("running", "interrupted")
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
            ex._emit(
                "rollback_stopped",
                sid,
                reason="irreversible",
                not_rolled_back=summary["not_rolled_back"],
            )
            break
        if not step.rollback and not get_kind(step.kind).can_roll_back(
            step.config, ex.s.loaded.spec
        ):
            if changes_things(step):
                summary["no_rollback"].append(sid)
            continue
        if not rollback_step(ex, step):
            summary["rollback_failed"] = sid
            summary["not_rolled_back"] = mattering(done[i:])
            break
        summary["rolled_back"].append(sid)
    return summary


def rollback_step(ex: Executor, step: Step) -> bool:
    """Run one step's rollback (its command, or its kind's own), checkpointed like a step."""
    render = ex._renderer()
    kind = get_kind(step.kind)
    command = render(step.rollback) if step.rollback else f"built-in {kind.name} rollback"
    output = CappedOutput()
    now = time.time()
    with ex._txn(now) as conn:
        attempt = q.next_attempt(conn, ex.run_id, step.id, "rollback")
        q.set_step(conn, ex.run_id, step.id, status="rolling_back")
        q.insert_attempt(
            conn,
            run_id=ex.run_id,
            step_id=step.id,
            phase="rollback",
            attempt=attempt,
            status="running",
            started_at=now,
            owner=ex.s.owner,
        )
        chain.append(
            conn,
            "rollback_step_started",
            run_id=ex.run_id,
            step_id=step.id,
            actor=ex.s.operator,
            data={"command": ex.masker(command)},
        )
    ex.state[step.id].status = "rolling_back"
    ex._emit("rollback_step_started", step.id, action=ex.masker(command))
    env = ex._process_env(step, render)
    env["OPSBOOK_OUTPUT"] = str(ex.workdir / f"{step.id}.rollback.out")
    if step.rollback:
        cwd = ex.s.loaded.root / step.dir if step.dir else ex.s.loaded.root
        result = run_template(
            step.rollback,
            render,
            cwd=cwd,
            env=env,
            log=ex._logger(step.id, output),
            timeout=step.timeout,
            cancelled=threading.Event(),
            secrets=ex.masker.secrets,
        )
        Path(env["OPSBOOK_OUTPUT"]).unlink(missing_ok=True)
        if result.error:
            ex._logger(step.id, output)(result.error)
        exit_code: int | None = result.exit_code
        ok = result.exit_code == 0 and not result.timed_out and not result.error
    else:
        ctx = ex.step_context(step, attempt, env, render, output)
        try:
            undone = kind.rollback(
                ctx, step.config, dict(ex.state[step.id].result.get("data") or {})
            )
        except OpsbookError as err:
            undone = StepResult(ok=False, message=str(err))
        if undone.message:
            ctx.log(undone.message)
        exit_code, ok = undone.exit_code, undone.ok
    status = "rolled_back" if ok else "rollback_failed"
    end = time.time()
    with ex._txn(end) as conn:
        q.finish_attempt(
            conn,
            ex.run_id,
            step.id,
            "rollback",
            attempt,
            status="succeeded" if ok else "failed",
            finished_at=end,
            exit_code=exit_code,
            output=output.text(),
        )
        q.set_step(conn, ex.run_id, step.id, status=status)
        chain.append(
            conn,
            f"step_{status}",
            run_id=ex.run_id,
            step_id=step.id,
            actor=ex.s.operator,
            data={"exit_code": exit_code, **integrity.attempt_seal(attempt, output.text())},
        )
    ex.state[step.id].status = status
    ex._emit(
        f"step_{status}",
        step.id,
        duration=end - now,
        exit_code=exit_code,
        tail=output.tail(5),
    )
    return ok


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
        parts.append(
            f"rollback of {summary['rollback_failed']} failed; not rolled back: "
            + ", ".join(summary["not_rolled_back"])
        )
    if summary["no_rollback"]:
        parts.append("no rollback defined for: " + ", ".join(summary["no_rollback"]))
    if summary.get("interrupted"):
        parts.append("interrupted, state unknown: " + ", ".join(summary["interrupted"]))
    return "; ".join(parts)
