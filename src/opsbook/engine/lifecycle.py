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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opsbook import environ, proclife
from opsbook.approvals import policy as approval_policy
from opsbook.approvals.signing import Statement
from opsbook.engine import identity
from opsbook.engine.observe import Observer, RunEvent, ignore
from opsbook.engine.runner import Ask, Executor, Outcome, Setup, lease_seconds
from opsbook.errors import (
    InvalidState,
    LeaseLost,
    OpsbookError,
    RunFailed,
    RunInterrupted,
    WaitingForHuman,
)
from opsbook.masking import Masker
from opsbook.plan import get_runbook, locks_environment, make_plan
from opsbook.spec.loader import LoadedSpec, display_name, validate_text
from opsbook.steps.registry import get_kind
from opsbook.store import Store, integrity, processes
from opsbook.store import events as chain
from opsbook.store import runs as q


def start_run(
    store: Store,
    loaded: LoadedSpec,
    runbook_name: str,
    env_name: str,
    given: Mapping[str, str],
    *,
    yes: bool = False,
    ask: Ask | None = None,
    observer: Observer = ignore,
    operator: str | None = None,
    queue: bool = False,
) -> Outcome:
    """Create a run, take the environment lock, and execute it to its next stopping point.

    ``operator`` names who started it (default: the git user); with ``queue`` the run is created
    unleased and this returns at once (status ``queued``): a worker (``opsbook serve``) takes it.
    """
    # The text stored with the run is what a resume executes; read right after loading it.
    text = loaded.path.read_text(encoding="utf-8")
    plan = make_plan(loaded, runbook_name, env_name, given)  # validates env, params, expressions
    runbook = get_runbook(loaded, runbook_name)
    effective = environ.resolve(loaded, env_name)
    from opsbook.plan import resolve_params

    params = resolve_params(loaded, runbook_name, given)
    operator = operator or identity.operator(loaded.root)
    owner = identity.new_owner()
    now = time.time()
    run_id = identity.new_run_id()
    masker = Masker(effective.secrets)
    row = {
        "id": run_id,
        "project": loaded.spec.project,
        "runbook": runbook_name,
        "environment": env_name,
        "params": params,
        "status": "running",
        "operator": operator,
        "git_sha": identity.git_sha(loaded.root),
        "spec_path": str(loaded.path.resolve()),
        "spec_text": text,
        "spec_sha256": hashlib.sha256(text.encode()).hexdigest(),
        "created_at": now,
        "updated_at": now,
        "lease_owner": None if queue else owner,
        "lease_expires_at": None if queue else now + lease_seconds(),
        "lock_key": env_name if locks_environment(loaded, runbook) else None,
    }
    q.create_run(
        store,
        row,
        [s.id for s in runbook.steps],
        event=(
            "run_created",
            {
                "runbook": runbook_name,
                "environment": env_name,
                "params": masker.mask_data(params),
                "params_sha256": integrity.digest(params),
                "git_sha": row["git_sha"],
                "locks_environment": plan.locks_environment,
            },
        ),
    )
    if queue:
        return Outcome(run_id, "queued", "queued; a worker takes it")
    with store.begin() as conn:
        run = q.get_run(conn, run_id)
    setup = Setup(
        store, run, loaded, runbook, effective, params, owner, operator, observer, yes, ask
    )
    with proclife.interruptible():
        return Executor(setup).execute()


def full_run_id(store: Store, run_id: str) -> str:
    """A run id as typed: the whole id, a unique prefix of one, or ``last``."""
    from opsbook.store.audit import resolve_run_id

    with store.begin() as conn:
        return resolve_run_id(conn, run_id)


def _setup_for(
    store: Store, run: Any, owner: str, observer: Observer, yes: bool, ask: Ask | None
) -> Setup:
    path = Path(run.spec_path)
    loaded = validate_text(run.spec_text, display_name(path), path)
    runbook = get_runbook(loaded, run.runbook)
    effective = environ.resolve(loaded, run.environment)
    operator = identity.operator(loaded.root)
    return Setup(
        store,
        run,
        loaded,
        runbook,
        effective,
        dict(run.params),
        owner,
        operator,
        observer,
        yes,
        ask,
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
    now = time.time()
    with store.begin() as conn:
        run = q.get_run(conn, run_id)
        if run.status in q.FINISHED:
            raise InvalidState(f"already finished ({run.status})", run=run_id)
        if run.status == "needs_attention":
            raise InvalidState(
                f"needs attention: {run.error}",
                run=run_id,
                hint=f"decide first: `opsbook resolve {run_id} STEP --rerun|--skip|--mark-done`",
            )
        statuses = ("running", "waiting", "aborting", "rolling_back")
        if not q.acquire_lease(conn, run_id, owner, now, lease_seconds(), statuses):
            raise InvalidState(
                f"is being executed by {run.lease_owner} (lease valid for another"
                f" {max(0.0, (run.lease_expires_at or now) - now):.0f}s)",
                run=run_id,
                hint="wait for it, or resume after that process stopped and its lease expired",
            )
        if run.status == "waiting":
            q.set_run(conn, run_id, status="running")
        chain.append(conn, "run_leased", run_id=run_id, actor=owner, data={"by": "resume"})
        run = q.get_run(conn, run_id)
    with proclife.interruptible():
        return Executor(_setup_for(store, run, owner, observer, yes, ask)).execute()


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
        if run.status in q.FINISHED:
            raise InvalidState(f"already finished ({run.status})", run=run_id)
        loaded = validate_text(run.spec_text, display_name(Path(run.spec_path)))
        spec_step = get_runbook(loaded, run.runbook).step(step_id)
        if not get_kind(spec_step.kind).asks_humans and not spec_step.confirm:
            raise InvalidState(
                f"step {step_id} is a {spec_step.kind} step, not a gate or a step to confirm",
                run=run_id,
            )
        if step.status != "waiting":
            raise InvalidState(
                f"step {step_id} is {step.status}, not waiting for an answer", run=run_id
            )
        steps = q.get_steps(conn, run_id)
        evidence: dict[str, Any] = {
            "outputs": {sid: r.outputs for sid, r in steps.items() if r.outputs},
            "done": [sid for sid, r in steps.items() if r.status in ("succeeded", "skipped")],
        }
        # A confirmation quotes the exact command the paused run showed (already masked).
        confirming = (step.result or {}).get("confirm") if spec_step.confirm else None
        if confirming:
            evidence.update(items=confirming, confirm=True)
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
        # Lock order everywhere: the run row, then the event chain (no deadlock on PostgreSQL).
        if run.status == "waiting":
            # Unleased and running: `opsbook resume` or any worker continues it.
            q.set_run(conn, run_id, status="running", lease_owner=None, lease_expires_at=None)
        else:
            q.set_run(conn, run_id, updated_at=time.time())
        q.insert_approval(
            conn,
            run_id=run_id,
            step_id=step_id,
            decision=decision,
            operator=operator,
            note=note,
            evidence=evidence,
            created_at=time.time(),
            via=answer.via,
            signature=answer.signature,
        )
        chain.append(
            conn,
            f"gate_{decision}",
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
    return {
        "run": run_id,
        "step": step_id,
        "decision": decision,
        "operator": operator,
        "confirm": confirming,
    }


WORKER_WAIT_ENV = "OPSBOOK_WORKER_MAX_WAIT"
"""Seconds a worker waits in-process; a longer wait pauses the run until it is due (default 30)."""

RESOLUTIONS = {"rerun": "pending", "skip": "skipped", "mark-done": "succeeded"}


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
        if run.status != "needs_attention":
            raise InvalidState(
                f"is {run.status}; only runs in needs_attention are resolved", run=run_id
            )
        if step.status != "interrupted":
            raise InvalidState(f"step {step_id} is {step.status}, not interrupted", run=run_id)
        last = processes.last_attempt(conn, run_id, step_id)
    if last is not None:
        proclife.kill_stale(last, run_id)  # the crashed attempt's leftovers, before deciding
    with store.begin() as conn:
        values: dict[str, Any] = {"status": RESOLUTIONS[action]}
        if action != "rerun":
            values["finished_at"] = time.time()
            values["result"] = {"message": f"{action} by {operator}"}
        q.set_step(conn, run_id, step_id, **values)
        remaining = [
            sid
            for sid, r in q.get_steps(conn, run_id).items()
            if r.status == "interrupted" and sid != step_id
        ]
        if not remaining:
            q.set_run(
                conn, run_id, status="running", lease_owner=None, lease_expires_at=None, error=None
            )
        chain.append(
            conn,
            "step_resolved",
            run_id=run_id,
            step_id=step_id,
            actor=operator,
            data={"action": action},
        )


def abort(store: Store, run_id: str, *, operator: str, observer: Observer = ignore) -> Outcome:
    """Stop a run cleanly and roll it back; if another process executes it, ask it to."""
    run_id = full_run_id(store, run_id)
    owner = identity.new_owner()
    now = time.time()
    with store.begin() as conn:
        run = q.get_run(conn, run_id)
        if run.status in q.FINISHED:
            raise InvalidState(f"already finished ({run.status})", run=run_id)
        live = run.lease_owner is not None and (run.lease_expires_at or 0) >= now
        q.set_run(conn, run_id, status="aborting", summary={"reason": f"aborted by {operator}"})
        chain.append(conn, "abort_requested", run_id=run_id, actor=operator, data={})
        if live:
            return Outcome(
                run_id,
                "aborting",
                f"abort requested; {run.lease_owner} stops and rolls back within"
                f" {lease_seconds() / 3:.0f}s",
            )
        q.acquire_lease(conn, run_id, owner, now, lease_seconds(), ("aborting",))
        run = q.get_run(conn, run_id)
    return Executor(_setup_for(store, run, owner, observer, False, None)).execute()


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
        for run_id in candidates:
            owner = identity.new_owner()
            statuses = ("running", "aborting", "rolling_back", "waiting")
            with store.begin() as conn:
                if not q.acquire_lease(conn, run_id, owner, time.time(), lease_seconds(), statuses):
                    continue  # another worker was faster
                if q.get_run(conn, run_id).status == "waiting":  # a timer came due
                    q.set_run(conn, run_id, status="running")
                chain.append(conn, "run_leased", run_id=run_id, actor=owner, data={"by": "worker"})
                run = q.get_run(conn, run_id)
            took = True
            observer(RunEvent("worker_took", run_id, None, {"owner": owner}))
            try:
                setup = _setup_for(store, run, owner, observer, False, None)
                setup.pause_waits_over = float(os.environ.get(WORKER_WAIT_ENV, "30"))
                outcome = Executor(setup).execute()
                executed.append(outcome)
                if outcome.status == "interrupted":  # Ctrl-C stops the worker too
                    return WorkerReport(executed)
            except LeaseLost as err:
                executed.append(Outcome(run_id, "lease_lost", str(err)))
            except OpsbookError as err:
                observer(RunEvent("worker_error", run_id, None, {"message": str(err)}))
                executed.append(Outcome(run_id, "error", str(err)))
        if once and not took:
            break
        if not took:
            time.sleep(poll)
    return WorkerReport(executed)


def raise_for_outcome(outcome: Outcome) -> None:
    """Map how a run stopped to the CLI's exit codes: 0 done, 3 waiting, 1 otherwise."""
    if outcome.status == "succeeded":
        return
    if outcome.status == "waiting":
        raise WaitingForHuman(outcome.message, run=outcome.run_id)
    if outcome.status == "aborting":
        return
    if outcome.status == "interrupted":
        signum = proclife.received() or signal.SIGINT
        raise RunInterrupted(outcome.message, run=outcome.run_id, exit_code=128 + int(signum))
    raise RunFailed(f"{outcome.status}: {outcome.message}", run=outcome.run_id)
