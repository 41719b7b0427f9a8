"""A run's life: start, resume, approve, resolve, abort, and the worker that takes runs over.

Each function is one library call of a CLI command. A run resumes with the spec text it started
with (``runs.spec_text``), not with opsbook.yaml as edited since: the steps already done were
decided by that text. Environment values are read again from the env file (they are never
stored, being secret).
"""

from __future__ import annotations

import hashlib
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opsbook import environ, proclife
from opsbook.approvals import policy as approval_policy
from opsbook.approvals.signing import Statement
from opsbook.engine import identity, states
from opsbook.engine.lease import lease_seconds
from opsbook.engine.observe import Observer, RunEvent, ignore
from opsbook.engine.runner import Executor, Outcome
from opsbook.engine.setup import Ask, Setup
from opsbook.engine.states import ACTIVE, DONE, FINISHED, EventType, Halt, RunStatus, StepStatus
from opsbook.errors import (
    InvalidState,
    LeaseLost,
    OpsbookError,
    RunBusy,
    RunFailed,
    RunInterrupted,
    StateMoved,
    WaitingForHuman,
)
from opsbook.masking import Masker
from opsbook.plan import Plan, get_runbook
from opsbook.spec.loader import LoadedSpec, display_name, validate_text
from opsbook.steps.registry import get_kind
from opsbook.store import Store, integrity, processes
from opsbook.store import events as chain
from opsbook.store import runs as q

if TYPE_CHECKING:
    from sqlalchemy import Connection


def start_run(
    store: Store,
    plan: Plan,
    *,
    yes: bool = False,
    ask: Ask | None = None,
    observer: Observer = ignore,
    operator: str | None = None,
    queue: bool = False,
) -> Outcome:
    """Create the run ``plan`` describes (see :func:`opsbook.plan.make_plan`), take the
    environment lock, and execute it to its next stopping point.

    The plan is the engine's input: its environment, params and lock are used as resolved, and
    the spec text it was made from (read once) is what the run stores and a resume executes.
    ``operator`` names who started it (default: the git user); with ``queue`` the run is created
    unleased and this returns at once (status ``queued``): a worker (``opsbook serve``) takes it.
    """
    if plan.inputs is None:
        raise ValueError("start_run needs a plan made by make_plan (it carries the inputs)")
    loaded = plan.inputs.loaded
    operator = operator or identity.operator(loaded.root)
    owner = identity.new_owner()
    run_id = _create_run(store, plan, operator=operator, owner=None if queue else owner)
    if queue:
        return Outcome(run_id, Halt.QUEUED, "queued; a worker takes it")
    with store.begin() as conn:
        run = q.get_run(conn, run_id)
    setup = Setup(
        store=store,
        run=run,
        loaded=loaded,
        runbook=plan.inputs.runbook,
        effective=plan.inputs.effective,
        params=plan.inputs.params,
        owner=owner,
        operator=operator,
        observer=observer,
        yes=yes,
        ask=ask,
    )
    with proclife.interruptible():
        return Executor(setup).execute()


def _create_run(store: Store, plan: Plan, *, operator: str, owner: str | None) -> str:
    """Insert the run ``plan`` describes with its ``run_created`` event; leased to ``owner``
    (None: queued for a worker). Returns the new run's id."""
    assert plan.inputs is not None
    run_id = identity.new_run_id()
    row = _run_row(plan, run_id=run_id, operator=operator, owner=owner)
    q.create_run(
        store,
        row,
        [s.id for s in plan.inputs.runbook.steps],
        event=(
            EventType.RUN_CREATED,
            {
                "runbook": plan.runbook,
                "environment": plan.environment,
                "params": plan.params,  # masked
                "params_sha256": integrity.digest(plan.inputs.params),
                "git_sha": row["git_sha"],
                "locks_environment": plan.locks_environment,
            },
        ),
        lease_ttl=None if owner is None else lease_seconds(),
    )
    return run_id


def _run_row(plan: Plan, *, run_id: str, operator: str, owner: str | None) -> dict[str, Any]:
    """The run's row as ``plan`` resolved it (lease times are the store's to write)."""
    assert plan.inputs is not None
    loaded = plan.inputs.loaded
    now = time.time()
    return {
        "id": run_id,
        "project": plan.project,
        "runbook": plan.runbook,
        "environment": plan.environment,
        "params": plan.inputs.params,
        "status": RunStatus.RUNNING,
        "operator": operator,
        "git_sha": identity.git_sha(loaded.root),
        "spec_path": str(loaded.path.resolve()),
        "spec_text": loaded.text,
        "spec_sha256": hashlib.sha256(loaded.text.encode()).hexdigest(),
        "created_at": now,
        "updated_at": now,
        "lease_owner": owner,
        "lock_key": plan.environment if plan.locks_environment else None,
    }


def full_run_id(store: Store, run_id: str) -> str:
    """A run id as typed: the whole id, a unique prefix of one, or ``last``."""
    from opsbook.store.audit import resolve_run_id

    with store.begin() as conn:
        return resolve_run_id(conn, run_id)


def _setup_for(
    store: Store,
    run: Any,
    owner: str,
    observer: Observer,
    *,
    yes: bool = False,
    ask: Ask | None = None,
) -> Setup:
    path = Path(run.spec_path)
    loaded = validate_text(run.spec_text, display_name(path), path)
    runbook = get_runbook(loaded, run.runbook)
    effective = environ.resolve(loaded, run.environment)
    operator = identity.operator(loaded.root)
    return Setup(
        store=store,
        run=run,
        loaded=loaded,
        runbook=runbook,
        effective=effective,
        params=dict(run.params),
        owner=owner,
        operator=operator,
        observer=observer,
        yes=yes,
        ask=ask,
    )


def resume_run(
    store: Store,
    run_id: str,
    *,
    yes: bool = False,
    ask: Ask | None = None,
    observer: Observer = ignore,
) -> Outcome:
    """Take over a run nobody is executing (crashed, paused at a gate, resolved) and continue."""
    run_id = full_run_id(store, run_id)
    owner = identity.new_owner()
    with store.begin() as conn:
        run = q.get_run(conn, run_id)
        if run.status in FINISHED:
            proclife.remove_run_folders(run_id)  # a kill after the last commit left it
            raise InvalidState(f"already finished ({run.status})", run=run_id)
        if run.status == RunStatus.NEEDS_ATTENTION:
            raise InvalidState(
                f"needs attention: {run.error}",
                run=run_id,
                hint=f"decide first: `opsbook resolve {run_id} STEP --rerun|--skip|--mark-done`",
            )
        run = _take(conn, run, owner, by="resume")
    with proclife.interruptible():
        return Executor(_setup_for(store, run, owner, observer, yes=yes, ask=ask)).execute()


RESUMABLE = frozenset({*states.LEASABLE, RunStatus.WAITING})
"""Run states `opsbook resume` and workers take over."""


def _asking(run: Any, step: Any) -> tuple[LoadedSpec, list[str] | None]:
    """Check that ``step`` waits for a human's answer: the run's spec, and what a confirmation
    quotes (if the step is one)."""
    loaded = validate_text(run.spec_text, display_name(Path(run.spec_path)))
    spec_step = get_runbook(loaded, run.runbook).step(step.step_id)
    if not get_kind(spec_step.kind).asks_humans and not spec_step.confirm:
        raise InvalidState(
            f"step {step.step_id} is a {spec_step.kind} step, not a gate or a step to confirm",
            run=run.id,
        )
    if step.status != StepStatus.WAITING:
        raise InvalidState(
            f"step {step.step_id} is {step.status}, not waiting for an answer", run=run.id
        )
    # A confirmation quotes the exact command the paused run showed (already masked).
    confirming: list[str] | None = (step.result or {}).get("confirm") if spec_step.confirm else None
    return loaded, confirming


def _approval_evidence(
    conn: Connection, run_id: str, confirming: list[str] | None
) -> dict[str, Any]:
    """What the approver saw: the outputs so far and the steps done (and the command quoted)."""
    steps = q.get_steps(conn, run_id)
    evidence: dict[str, Any] = {
        "outputs": {sid: r.outputs for sid, r in steps.items() if r.outputs},
        "done": [sid for sid, r in steps.items() if r.status in DONE],
    }
    if confirming:
        evidence.update(items=confirming, confirm=True)
    return evidence


def _take(conn: Connection, run: Any, owner: str, *, by: str) -> Any:
    """Lease ``run`` for ``owner`` and return it as leased; RunBusy names a live holder.

    A lease that expired is free; so is one whose holder ran on this machine since its last
    boot and whose process is gone (killed, crashed): that run is taken at once instead of
    waiting out the lease.
    """
    gone = _gone_holder(run)
    if not q.acquire_lease(conn, run.id, owner, lease_seconds(), RESUMABLE, take_from=gone):
        raise RunBusy(
            f"is being executed by {identity.describe_holder(run.lease_owner or '?')} since"
            f" {q.utc_text(run.leased_at)}",
            run=run.id,
            hint="wait for it to finish, or stop it with `opsbook abort " + run.id + "`",
        )
    if run.status == RunStatus.WAITING:
        q.transition(conn, run.id, from_={RunStatus.WAITING}, to=RunStatus.RUNNING)
    data = {"by": by, **({"took_from_dead_holder": gone} if gone else {})}
    chain.append(conn, EventType.RUN_LEASED, run_id=run.id, actor=owner, data=data)
    return q.get_run(conn, run.id)


def _gone_holder(run: Any) -> str | None:
    """The run's lease holder when it is provably gone (see identity.holder_is_gone)."""
    holder: str | None = run.lease_owner
    return holder if holder is not None and identity.holder_is_gone(holder) else None


def approve(
    store: Store,
    run_id: str,
    step_id: str,
    *,
    operator: str,
    note: str = "",
    reject: bool = False,
    sign_with: Path | None = None,
    signature: str | None = None,
) -> dict[str, Any]:
    """Record a gate decision with the evidence the approver saw; the run may then continue.

    The environment's ``approvers:`` are applied first (:func:`opsbook.approvals.policy.check`):
    a signed answer's approver is the key's principal; ``distinct`` refuses the run's operator.
    """
    run_id = full_run_id(store, run_id)
    with store.begin() as conn:
        run = q.get_run(conn, run_id)
        step = q.get_step(conn, run_id, step_id)
        if run.status in FINISHED:
            raise InvalidState(f"already finished ({run.status})", run=run_id)
        loaded, confirming = _asking(run, step)
        evidence = _approval_evidence(conn, run_id, confirming)
        decision = "rejected" if reject else "approved"
        note = Masker(environ.resolve(loaded, run.environment).secrets)(note)
        answer = approval_policy.check(
            loaded,
            run,
            Statement(loaded.spec.project, run_id, step_id, decision, note),
            operator,
            sign_with=sign_with,
            signature=signature,
        )
        operator = answer.operator
        _record_answer(
            conn,
            run,
            step_id,
            answer,
            evidence=evidence,
            note=note,
            reject=reject,
            confirming=confirming,
        )
    return {
        "run": run_id,
        "step": step_id,
        "decision": decision,
        "operator": operator,
        "confirm": confirming,
    }


def _record_answer(
    conn: Connection,
    run: Any,
    step_id: str,
    answer: approval_policy.Answer,
    *,
    evidence: dict[str, Any],
    note: str,
    reject: bool,
    confirming: list[str] | None,
) -> None:
    """Write a checked gate answer: the run continues (unleased), the approval, its event."""
    run_id, operator = run.id, answer.operator
    # Lock order everywhere: the run row, then the event chain (no deadlock on PostgreSQL).
    if run.status == RunStatus.WAITING:
        # Unleased and running: `opsbook resume` or any worker continues it.
        q.transition(
            conn,
            run_id,
            from_={RunStatus.WAITING},
            to=RunStatus.RUNNING,
            lease_owner=None,
            lease_expires_at=None,
        )
    else:
        q.set_run(conn, run_id, updated_at=time.time())
    q.insert_approval(
        conn,
        run_id=run_id,
        step_id=step_id,
        decision="rejected" if reject else "approved",
        operator=operator,
        note=note,
        evidence=evidence,
        created_at=time.time(),
        via=answer.via,
        signature=answer.signature,
    )
    chain.append(
        conn,
        EventType.GATE_REJECTED if reject else EventType.GATE_APPROVED,
        run_id=run_id,
        step_id=step_id,
        actor=operator,
        data={
            "note": note,
            "via": answer.via,
            **({"signature": answer.signature} if answer.signature else {}),
            **({"confirm": confirming} if confirming else {}),
        },
    )


WORKER_WAIT_ENV = "OPSBOOK_WORKER_MAX_WAIT"
"""Seconds a worker waits in-process; a longer wait pauses the run until it is due (default 30)."""

RESOLUTIONS = {
    "rerun": StepStatus.PENDING,
    "skip": StepStatus.SKIPPED,
    "mark-done": StepStatus.SUCCEEDED,
}


def resolve(store: Store, run_id: str, step_id: str, action: str, *, operator: str) -> None:
    """A human's decision on an interrupted step: run it again, skip it, or count it done."""
    run_id = full_run_id(store, run_id)
    if action not in RESOLUTIONS:
        raise InvalidState(
            f"unknown resolution '{action}'", hint="use --rerun, --skip or --mark-done"
        )
    with store.begin() as conn:
        run = q.get_run(conn, run_id)
        step = q.get_step(conn, run_id, step_id)
        if run.status != RunStatus.NEEDS_ATTENTION:
            raise InvalidState(
                f"is {run.status}; only runs in needs_attention are resolved", run=run_id
            )
        if step.status != StepStatus.INTERRUPTED:
            raise InvalidState(f"step {step_id} is {step.status}, not interrupted", run=run_id)
        last = processes.last_attempt(conn, run_id, step_id)
    if last is not None:
        proclife.kill_stale(last, run_id)  # the crashed attempt's leftovers, before deciding
    with store.begin() as conn:
        values: dict[str, Any] = {}
        if action != "rerun":
            values["finished_at"] = time.time()
            values["result"] = {"message": f"{action} by {operator}"}
        q.step_transition(
            conn,
            run_id,
            step_id,
            from_={StepStatus.INTERRUPTED},
            to=RESOLUTIONS[action],
            **values,
        )
        remaining = [
            sid
            for sid, r in q.get_steps(conn, run_id).items()
            if r.status == StepStatus.INTERRUPTED and sid != step_id
        ]
        if not remaining:
            q.transition(
                conn,
                run_id,
                from_={RunStatus.NEEDS_ATTENTION},
                to=RunStatus.RUNNING,
                lease_owner=None,
                lease_expires_at=None,
                error=None,
            )
        chain.append(
            conn,
            EventType.STEP_RESOLVED,
            run_id=run_id,
            step_id=step_id,
            actor=operator,
            data={"action": action},
        )


def abort(store: Store, run_id: str, *, operator: str, observer: Observer = ignore) -> Outcome:
    """Stop a run cleanly and roll it back; if another process executes it, ask it to."""
    run_id = full_run_id(store, run_id)
    owner = identity.new_owner()
    with store.begin() as conn:
        run = q.get_run(conn, run_id)
        if run.status in FINISHED:
            raise InvalidState(f"already finished ({run.status})", run=run_id)
        gone = _gone_holder(run)
        expires = run.lease_expires_at or 0.0
        live = run.lease_owner is not None and not gone and expires >= q.db_now(conn)
        q.transition(
            conn,
            run_id,
            from_=ACTIVE,
            to=RunStatus.ABORTING,
            summary={"reason": f"aborted by {operator}"},
        )
        chain.append(conn, EventType.ABORT_REQUESTED, run_id=run_id, actor=operator, data={})
        if live:
            return Outcome(
                run_id,
                RunStatus.ABORTING,
                f"abort requested; {run.lease_owner} stops and rolls back within"
                f" {lease_seconds() / 3:.0f}s",
            )
        q.acquire_lease(conn, run_id, owner, lease_seconds(), {RunStatus.ABORTING}, take_from=gone)
        run = q.get_run(conn, run_id)
    return Executor(_setup_for(store, run, owner, observer)).execute()


@dataclass
class WorkerReport:
    executed: list[Outcome]


def work(
    store: Store,
    *,
    once: bool = False,
    poll: float = 2.0,
    observer: Observer = ignore,
    should_stop: Callable[[], bool] = lambda: False,
) -> WorkerReport:
    """Take over runs whose lease expired (or that were resolved or approved) and continue them.

    Gates are never answered by a worker: a run reaching an unanswered gate pauses again.
    With ``once`` the worker stops when no run is left to take.
    """
    executed: list[Outcome] = []
    while not should_stop():
        took = False
        with store.begin() as conn:
            candidates = q.claimable_runs(conn, time.time())
            # Runs whose holder died on this machine need not wait for their lease to expire.
            candidates += [
                r for r, holder in q.live_leases(conn) if identity.holder_is_gone(holder)
            ]
        for run_id in candidates:
            owner = identity.new_owner()
            try:
                with store.begin() as conn:
                    run = _take(conn, q.get_run(conn, run_id), owner, by="worker")
            except (RunBusy, StateMoved):
                continue  # another worker was faster
            took = True
            observer(RunEvent(EventType.WORKER_TOOK, run_id, None, {"owner": owner}))
            try:
                setup = _setup_for(store, run, owner, observer)
                setup.pause_waits_over = float(os.environ.get(WORKER_WAIT_ENV, "30"))
                outcome = Executor(setup).execute()
                executed.append(outcome)
                if outcome.status == Halt.INTERRUPTED:  # Ctrl-C stops the worker too
                    return WorkerReport(executed)
            except LeaseLost as err:
                executed.append(Outcome(run_id, Halt.LEASE_LOST, str(err)))
            except OpsbookError as err:
                observer(RunEvent(EventType.WORKER_ERROR, run_id, None, {"message": str(err)}))
                executed.append(Outcome(run_id, Halt.ERROR, str(err)))
        if once and not took:
            break
        if not took:
            time.sleep(poll)
    return WorkerReport(executed)


def raise_for_abort(outcome: Outcome) -> None:
    """`opsbook abort`'s exit code: 0 when the run stopped and was rolled back as far as it may
    be (or its executor was asked to do it), 1 when a rollback failed or the run was lost."""
    if outcome.status == RunStatus.ABORTING:
        return
    if outcome.status == RunStatus.ABORTED and not outcome.summary.get("rollback_failed"):
        return
    raise RunFailed(f"{outcome.status}: {outcome.message}", run=outcome.run_id)


def raise_for_outcome(outcome: Outcome) -> None:
    """Map how a run stopped to the CLI's exit codes: 0 done, 3 waiting, 1 otherwise."""
    if outcome.status == RunStatus.SUCCEEDED:
        return
    if outcome.status == RunStatus.WAITING:
        raise WaitingForHuman(outcome.message, run=outcome.run_id)
    if outcome.status == RunStatus.ABORTING:
        return
    if outcome.status == Halt.INTERRUPTED:
        signum = proclife.received() or signal.SIGINT
        raise RunInterrupted(outcome.message, run=outcome.run_id, exit_code=128 + int(signum))
    raise RunFailed(f"{outcome.status}: {outcome.message}", run=outcome.run_id)
