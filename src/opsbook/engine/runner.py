"""The executor: runs one run's steps while holding its lease, checkpointing every state change.

Order of work for a run this process has just leased:

1. recover steps a crash left ``running``: rerun them when safe (checks, waits, gates,
   ``idempotent: true``), otherwise stop in ``needs_attention`` for a human to resolve;
2. schedule ready steps (needs done, ``if:`` true) on a bounded thread pool;
3. on a failure, let in-flight steps finish, then roll back completed steps in reverse order,
   stopping at an irreversible one;
4. finish (releasing the environment lock), pause at an unanswered gate (lease released, lock
   kept), or stop when the lease was lost.

Every write is one transaction that starts with :func:`opsbook.store.runs.fence`.

The executor holds the run and its endings; its parts each work against a small protocol it
satisfies: :mod:`~opsbook.engine.frontier` (which steps are ready), :mod:`~opsbook.engine.attempts`
(one step's attempts), :mod:`~opsbook.engine.inputs` (what an attempt is given),
:mod:`~opsbook.engine.gates` (questions for a human),
:mod:`~opsbook.engine.rollback`, :mod:`~opsbook.engine.checkpoint` and :mod:`~opsbook.engine.lease`.
"""

from __future__ import annotations

import functools
import gc
import os
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opsbook import proclife
from opsbook.engine import rollback
from opsbook.engine.attempts import LOST, Attempts
from opsbook.engine.checkpoint import Checkpoints, Fenced
from opsbook.engine.frontier import Frontier
from opsbook.engine.gates import Gates, asks_humans
from opsbook.engine.inputs import StepInputs
from opsbook.engine.lease import Heartbeat
from opsbook.engine.observe import RunEvent
from opsbook.engine.setup import Setup
from opsbook.engine.states import DONE, EventType, Halt, RunStatus, StepState, StepStatus
from opsbook.errors import ExpressionError, LeaseLost, StateMoved
from opsbook.masking import Masker
from opsbook.spec import expressions as ex
from opsbook.spec.loader import LoadedSpec
from opsbook.spec.models import Step
from opsbook.steps.base import StepContext
from opsbook.steps.registry import get_kind
from opsbook.store import events as chain
from opsbook.store import runs as q
from opsbook.wording import noun

CONCURRENCY_ENV = "OPSBOOK_CONCURRENCY"


@dataclass
class Outcome:
    """How an executor left a run."""

    run_id: str
    status: RunStatus | Halt
    message: str = ""
    summary: dict[str, Any] = field(default_factory=dict)
    waiting_on: list[str] = field(default_factory=list)


class Executor:
    """Runs one leased run to its next stopping point. Not reusable."""

    workdir: Path
    """The run's private folder while ``execute`` runs (raw ``$OPSBOOK_OUTPUT`` values)."""

    def __init__(self, setup: Setup) -> None:
        self.s = setup
        self.run_id: str = setup.run.id
        self.store = setup.store
        self.masker = Masker(setup.effective.secrets)
        self.order = [step.id for step in setup.runbook.steps]
        self.by_id = {step.id: step for step in setup.runbook.steps}
        self.state: dict[str, StepState] = {}
        self.frontier = Frontier(setup.runbook, self.state)
        self.lease = Heartbeat(
            store=self.store,
            run_id=self.run_id,
            owner=setup.owner,
            on_stop=self._cancel_all,
            emit=self.emit,
        )
        self.lost = self.lease.lost
        self.abort = self.lease.abort
        self.checkpoints = Checkpoints(
            store=self.store, run_id=self.run_id, owner=setup.owner, lost=self.lost
        )
        self.inputs = StepInputs(setup=setup, state=self.state, masker=self.masker, txn=self.txn)
        self.contexts: dict[str, StepContext] = {}
        self.rollback_cancel = threading.Event()
        """Set with the steps' cancel events: stops the rollback command in flight."""
        self.gates = Gates(self)
        self.attempts = Attempts(self)

    @property
    def loaded(self) -> LoadedSpec:
        return self.s.loaded

    @property
    def owner(self) -> str:
        return self.s.owner

    @property
    def operator(self) -> str:
        return self.s.operator

    # ----- the whole run -------------------------------------------------------------------

    def execute(self) -> Outcome:
        self.workdir = proclife.run_folder(self.run_id)  # for $OPSBOOK_OUTPUT files
        self.checkpoints.bind()
        self.lease.start()
        try:
            outcome = self._until_interrupted()
            if outcome is None:  # the interrupt and its traceback are gone: see there
                gc.collect()  # and what the cut frames held in a reference cycle
                outcome = self._interrupted()
            return outcome
        finally:
            self.lease.stop()
            self.checkpoints.close()
            for ctx in self.contexts.values():
                ctx.cancelled.set()
            shutil.rmtree(self.workdir, ignore_errors=True)  # $OPSBOOK_OUTPUT files: raw values
            proclife.release_folder(self.workdir)

    def _until_interrupted(self) -> Outcome | None:
        """The run's outcome; None after a Ctrl-C (or a signal a run turns into one).

        The interruption is recorded by the caller, after this returns: the traceback of the
        interrupt holds the frames it cut through, and with them any store transaction it cut
        between its statements and its end (a signal can land anywhere in Python code, even as
        a ``with`` block calls its ``__exit__``). Kept alive, such a transaction still held the
        run's row on PostgreSQL, and recording the interruption waited on it for ever (seen
        twice in about 500 trials); on SQLite it kept the write lock. Once the frames are
        released, the transaction is rolled back and its connection given back."""
        try:
            try:
                return self._execute()
            except StateMoved as moved:
                # An abort committed after this executor last read the run: the guarded write
                # of the run's next state saw it. Honour it instead of overwriting it.
                if moved.current != RunStatus.ABORTING:
                    raise
                return self._aborted()
        except LeaseLost:
            why = self.lease.lost_because
            message = f"{LOST} ({why})" if why else LOST
            self.emit(EventType.LEASE_LOST, None, message=message)
            return Outcome(self.run_id, Halt.LEASE_LOST, message)
        except KeyboardInterrupt:
            return None

    def _execute(self) -> Outcome:
        with self.store.begin() as conn:
            run = q.get_run(conn, self.run_id)
            rows = q.get_steps(conn, self.run_id)
        for sid in self.order:
            row = rows.get(sid)
            self.state[sid] = StepState(
                status=StepStatus(row.status) if row else StepStatus.PENDING,
                attempts=row.attempts if row else 0,
                outputs=dict(row.outputs or {}) if row else {},
                result=dict(row.result or {}) if row else {},
                finished_at=row.finished_at if row else None,
                wake_at=row.wake_at if row else None,
            )
        self.emit(
            EventType.RUN_RESUMED if run.started_at else EventType.RUN_STARTED,
            None,
            runbook=run.runbook,
            environment=run.environment,
            operator=self.s.operator,
        )
        if run.started_at is None:
            with self.txn() as conn:
                q.set_run(conn, self.run_id, started_at=time.time())
        if run.status in (RunStatus.ABORTING, RunStatus.ROLLING_BACK):
            reason = (run.summary or {}).get("reason", "aborted")
            return self._rollback_and_finish(reason, aborted=run.status == RunStatus.ABORTING)
        attention = self._recover()
        if attention:
            return self._needs_attention(attention)
        # A crash between a step's failure and the start of the rollback leaves the failure
        # recorded: roll back now instead of scheduling around it.
        failed = [sid for sid in self.order if self._failed(sid)]
        if failed:
            return self._rollback_and_finish(f"step {failed[0]} failed", aborted=False)
        failure = self._schedule()
        if self.lost.is_set():
            raise LeaseLost(LOST, run=self.run_id)
        if self.abort.is_set():
            return self._aborted()
        # No read of the run's status here: an abort committed since the heartbeat last looked
        # makes the guarded write of the next state fail, and execute() then rolls back.
        return self._end_of_schedule(failure)

    def _end_of_schedule(self, failure: str | None) -> Outcome:
        if failure:
            return self._rollback_and_finish(failure, aborted=False)
        paused = [sid for sid in self.order if self.state[sid].status == StepStatus.WAITING]
        if paused:
            return self._pause(paused)
        stuck = [
            sid for sid in self.order if self.state[sid].status not in (*DONE, StepStatus.FAILED)
        ]
        if stuck:  # never expected; refuse to call a run done that did not do everything
            return self._rollback_and_finish(
                "steps never became ready: " + ", ".join(stuck), aborted=False
            )
        return self._finish(RunStatus.SUCCEEDED, "all steps done", {})

    def _aborted(self) -> Outcome:
        with self.store.begin() as conn:
            row = q.get_run(conn, self.run_id)
        reason = (row.summary or {}).get("reason", "aborted by an operator")
        return self._rollback_and_finish(reason, aborted=True)

    def _failed(self, sid: str) -> bool:
        failed = self.state[sid].status == StepStatus.FAILED
        return failed and not self.by_id[sid].continue_on_error

    # ----- recovery ------------------------------------------------------------------------

    def _recover(self) -> list[str]:
        """Steps a crash interrupted: reset the safe ones, return those needing a human."""
        attention: list[str] = []
        for sid in self.order:
            st = self.state[sid]
            if st.status == StepStatus.WAITING:  # a gate or a paused timer: look again
                self._set_step(sid, StepStatus.PENDING, event=EventType.STEP_RECHECKED)
            elif st.status in (StepStatus.RUNNING, StepStatus.INTERRUPTED):
                step = self.by_id[sid]
                if get_kind(step.kind).safe_to_rerun or step.idempotent:
                    self.attempts.reap(sid)
                    why = (
                        "idempotent" if step.idempotent else f"{step.kind} steps are safe to rerun"
                    )
                    self._set_step(
                        sid,
                        StepStatus.PENDING,
                        event=EventType.STEP_INTERRUPTED,
                        action="rerun",
                        reason=why,
                    )
                else:
                    attention.append(sid)
        return attention

    def _needs_attention(self, steps: list[str]) -> Outcome:
        message = (
            f"{noun(len(steps), 'step')} {', '.join(steps)}"
            f" {'was' if len(steps) == 1 else 'were'} interrupted mid-way and"
            f" {'is' if len(steps) == 1 else 'are'} not safe to run again;"
            f" decide with `opsbook resolve {self.run_id} STEP --rerun|--skip|--mark-done`"
        )
        with self.txn() as conn:
            for sid in steps:
                q.step_transition(
                    conn,
                    self.run_id,
                    sid,
                    from_={StepStatus.RUNNING, StepStatus.INTERRUPTED},
                    to=StepStatus.INTERRUPTED,
                )
                self.state[sid].status = StepStatus.INTERRUPTED
            q.transition(
                conn,
                self.run_id,
                from_={RunStatus.RUNNING},
                to=RunStatus.NEEDS_ATTENTION,
                lease_owner=None,
                lease_expires_at=None,
                error=message,
            )
            chain.append(
                conn,
                EventType.RUN_NEEDS_ATTENTION,
                run_id=self.run_id,
                actor=self.s.operator,
                data={"steps": steps},
            )
        self.emit(EventType.RUN_NEEDS_ATTENTION, None, steps=steps, message=message)
        return Outcome(self.run_id, RunStatus.NEEDS_ATTENTION, message, {"interrupted": steps})

    # ----- scheduling ----------------------------------------------------------------------

    def _schedule(self) -> str | None:
        """Run steps until none can start; returns the failure that stops the run, if any."""
        concurrency = max(1, int(os.environ.get(CONCURRENCY_ENV, "4")))
        self.frontier.start()
        failure: str | None = None
        running: dict[Future[StepState], str] = {}
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            while True:
                if failure is None and not self.lost.is_set() and not self.abort.is_set():
                    for sid in self.frontier.ready(running.values()):
                        if len(running) >= concurrency:
                            break
                        step = self.by_id[sid]
                        try:
                            will_run = self._condition(step)
                        except ExpressionError as err:  # fails the step, as any failure does
                            failure = failure or self._condition_failed(step, err)
                            self.frontier.ended(sid)
                            break
                        if not will_run:
                            self._set_step(
                                sid,
                                StepStatus.SKIPPED,
                                event=EventType.STEP_SKIPPED,
                                condition=step.if_ or "",
                                finished_at=time.time(),
                            )
                            self.frontier.ended(sid)
                            continue
                        if not running and self.frontier.lone():
                            # A lone ready step runs in this thread: a sequential runbook pays
                            # no thread hand-off per step.
                            run_here = functools.partial(self.attempts.run, inline=True)
                            running[_inline(run_here, step)] = sid
                            break
                        running[pool.submit(self.attempts.run, step)] = sid
                    if not running and self.frontier.ready(()):
                        continue  # skipping made more steps ready
                if not running:
                    return failure
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in done:
                    sid = running.pop(future)
                    try:
                        st = future.result()
                    except LeaseLost:
                        self._cancel_all()
                        self.lost.set()
                        continue
                    self.frontier.ended(sid)
                    step = self.by_id[sid]
                    stops = st.status == StepStatus.FAILED and not step.continue_on_error
                    if stops and failure is None:
                        failure = f"step {sid} failed: {st.result.get('message', '')}".rstrip(": ")

    def _condition(self, step: Step) -> bool:
        if step.if_ is None:
            return True
        return ex.condition(step.if_, self.inputs.expression_values())

    def _condition_failed(self, step: Step, err: ExpressionError) -> str:
        message = self.masker(f"if: {err}")
        self._set_step(
            step.id,
            StepStatus.FAILED,
            event=EventType.STEP_FAILED,
            finished_at=time.time(),
            message=message,
        )
        self.state[step.id].result = {"message": message}
        return f"step {step.id} failed: {message}"

    # ----- rollback ------------------------------------------------------------------------

    def _rollback_and_finish(self, reason: str, *, aborted: bool) -> Outcome:
        # A rollback has its own cancel event: steps cancelled a moment ago must not cancel
        # it, but a lost lease or an abort arriving from now on must.
        self.rollback_cancel = threading.Event()
        if aborted:
            self.abort.set()  # the heartbeat seeing "aborting" is not news: do not cancel
            from_, to = {RunStatus.ABORTING}, RunStatus.ABORTING
        else:
            from_, to = {RunStatus.RUNNING, RunStatus.ROLLING_BACK}, RunStatus.ROLLING_BACK
        with self.txn() as conn:
            q.transition(
                conn,
                self.run_id,
                from_=from_,
                to=to,
                summary={"reason": reason},
                error=self.masker(reason),
            )
            chain.append(
                conn,
                EventType.ROLLBACK_STARTED,
                run_id=self.run_id,
                actor=self.s.operator,
                data={"reason": self.masker(reason)},
            )
        self.emit(EventType.ROLLBACK_STARTED, None, reason=self.masker(reason))
        summary = rollback.undo(self)
        summary["reason"] = self.masker(reason)
        if aborted or self.abort.is_set():  # an abort during the rollback stopped it
            status = RunStatus.ABORTED
        elif summary["stopped_at"] or summary["rollback_failed"]:
            status = RunStatus.FAILED
        else:
            status = RunStatus.ROLLED_BACK
        return self._finish(status, rollback.message(reason, summary), summary)

    # ----- endings -------------------------------------------------------------------------

    def _finish(self, status: RunStatus, message: str, summary: dict[str, Any]) -> Outcome:
        # Every step and rollback is done: the folder goes before the run is recorded finished,
        # so a kill between the two leaves it to the resume that runs the run on, not to nobody.
        shutil.rmtree(self.workdir, ignore_errors=True)
        now = time.time()
        message = self.masker(message)
        with self.txn(now) as conn:
            q.transition(
                conn,
                self.run_id,
                from_=_FINISH_FROM[status],
                to=status,
                finished_at=now,
                lock_key=None,
                lease_owner=None,
                lease_expires_at=None,
                summary=summary,
                error=None if status == RunStatus.SUCCEEDED else message,
            )
            chain.append(
                conn,
                EventType.RUN_FINISHED,
                run_id=self.run_id,
                actor=self.s.operator,
                at=now,
                data={"status": status, "message": message},
            )
        self.emit(EventType.RUN_FINISHED, None, status=status, message=message, summary=summary)
        return Outcome(self.run_id, status, message, summary)

    def _interrupted(self) -> Outcome:
        """Ctrl-C: kill the steps in flight and let go of the run, as a crash would but at once.

        The lease is released so `opsbook resume` can continue without waiting for it to expire;
        the steps that were running are treated like steps a crash interrupted.
        """
        self._cancel_all()
        message = (
            "interrupted; steps in flight were killed. Continue with"
            f" `opsbook resume {self.run_id}` or stop with `opsbook abort {self.run_id}`"
        )
        try:
            with self.txn() as conn:
                q.set_run(conn, self.run_id, lease_owner=None, lease_expires_at=None)
                chain.append(
                    conn,
                    EventType.RUN_INTERRUPTED,
                    run_id=self.run_id,
                    actor=self.s.operator,
                    data={},
                )
        except LeaseLost:
            pass
        self.emit(EventType.RUN_INTERRUPTED, None, message=message)
        return Outcome(self.run_id, Halt.INTERRUPTED, message)

    def _pause(self, paused: list[str]) -> Outcome:
        gates = [sid for sid in paused if asks_humans(self.by_id[sid])]
        timers = [sid for sid in paused if sid not in gates]
        with self.txn() as conn:
            q.transition(
                conn,
                self.run_id,
                from_={RunStatus.RUNNING},
                to=RunStatus.WAITING,
                lease_owner=None,
                lease_expires_at=None,
            )
            chain.append(
                conn,
                EventType.RUN_PAUSED,
                run_id=self.run_id,
                actor=self.s.operator,
                data={"gates": gates, "timers": timers},
            )
        parts = [
            f"`opsbook approve {self.run_id} {g}` (or --reject)" + _confirming(self.state[g])
            for g in gates
        ]
        parts += [
            f"{sid} {self.state[sid].result.get('message', 'paused')}; a worker continues then"
            for sid in timers
        ]
        message = ("waiting for a human: " if gates else "waiting: ") + "; ".join(parts)
        self.emit(EventType.RUN_PAUSED, None, gates=gates, timers=timers, message=message)
        return Outcome(self.run_id, RunStatus.WAITING, message, waiting_on=paused)

    # ----- plumbing ------------------------------------------------------------------------

    def txn(self, now: float | None = None, *, batch: bool = False) -> Fenced:
        return self.checkpoints.txn(now, batch=batch)

    def _set_step(
        self,
        sid: str,
        status: StepStatus,
        *,
        event: EventType,
        finished_at: float | None = None,
        **data: Any,
    ) -> None:
        with self.txn() as conn:
            values: dict[str, Any] = {}
            if finished_at is not None:
                values["finished_at"] = finished_at
            q.step_transition(
                conn, self.run_id, sid, from_={self.state[sid].status}, to=status, **values
            )
            chain.append(
                conn, event, run_id=self.run_id, step_id=sid, actor=self.s.operator, data=data
            )
        self.state[sid].status = status
        if finished_at is not None:
            self.state[sid].finished_at = finished_at
        self.emit(event, sid, **data)

    def emit(self, type_: EventType, sid: str | None, **data: Any) -> None:
        self.s.observer(RunEvent(type_, self.run_id, sid, data))

    def _cancel_all(self) -> None:
        for ctx in list(self.contexts.values()):
            ctx.cancelled.set()
        self.rollback_cancel.set()


_FINISH_FROM = {
    RunStatus.SUCCEEDED: {RunStatus.RUNNING},
    RunStatus.ABORTED: {RunStatus.ABORTING},
    RunStatus.FAILED: {RunStatus.ROLLING_BACK},
    RunStatus.ROLLED_BACK: {RunStatus.ROLLING_BACK},
}
"""The state a run leaves when it ends in each final state."""


def _inline(fn: Callable[[Step], StepState], step: Step) -> Future[StepState]:
    """Run fn now and return its result as a completed future."""
    future: Future[StepState] = Future()
    try:
        future.set_result(fn(step))
    except BaseException as err:  # delivered through the future, as the pool would
        future.set_exception(err)
    return future


def _confirming(st: StepState) -> str:
    """For a paused ``confirm:`` step, what the approval confirms (already masked)."""
    items = st.result.get("confirm")
    return " to confirm: " + "; ".join(items) if items else ""
