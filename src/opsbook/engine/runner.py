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
"""

from __future__ import annotations

import functools
import os
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opsbook import environ, proclife
from opsbook.approvals import policy as approval_policy
from opsbook.engine import rollback
from opsbook.engine.checkpoint import Checkpoints, Fenced
from opsbook.engine.lease import Heartbeat
from opsbook.engine.observe import Observer, RunEvent
from opsbook.engine.output import CappedOutput
from opsbook.engine.states import DONE, EventType, Halt, Phase, RunStatus, StepStatus
from opsbook.errors import ExpressionError, LeaseLost, OpsbookError, StateMoved
from opsbook.masking import Masker
from opsbook.plan import confirm_items, expression_context
from opsbook.spec import expressions as ex
from opsbook.spec.loader import LoadedSpec
from opsbook.spec.models import Runbook, Step
from opsbook.spec.validate import dependencies
from opsbook.steps.base import Decision, StepContext, StepResult
from opsbook.steps.registry import get_kind
from opsbook.store import Store, integrity, processes
from opsbook.store import events as chain
from opsbook.store import runs as q

CONCURRENCY_ENV = "OPSBOOK_CONCURRENCY"
LOST = (
    "another process took this run over (this one's lease expired or was taken);"
    " this process stopped its steps and wrote nothing more"
)

Ask = Callable[[str, list[str], dict[str, Any]], Decision]
"""Asks a person about a gate: (step id, items, evidence) → decision."""


@dataclass
class Outcome:
    """How an executor left a run."""

    run_id: str
    status: RunStatus | Halt
    message: str = ""
    summary: dict[str, Any] = field(default_factory=dict)
    waiting_on: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class _AttemptEnd:
    """How one attempt ended, as recorded (secrets masked)."""

    step_id: str
    attempt: int
    at: float
    attempt_status: StepStatus
    step_status: StepStatus
    event: EventType
    message: str
    exit_code: int | None
    outputs: dict[str, str]
    record: dict[str, Any]
    final: bool
    paused: bool


@dataclass
class StepState:
    status: StepStatus
    attempts: int = 0
    outputs: dict[str, str] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)
    finished_at: float | None = None
    wake_at: float | None = None


@dataclass(kw_only=True)
class Setup:
    """Everything an executor needs; built by :mod:`opsbook.engine.lifecycle`."""

    store: Store
    run: Any
    """The run row as leased."""
    loaded: LoadedSpec
    runbook: Runbook
    effective: environ.Effective
    params: dict[str, str]
    owner: str
    operator: str
    observer: Observer
    yes: bool = False
    ask: Ask | None = None
    pause_waits_over: float | None = None
    """Waits with more time left than this pause the run (workers); None waits in-process."""


class Executor:
    """Runs one leased run to its next stopping point. Not reusable."""

    workdir: Path
    """The run's private folder while ``execute`` runs (raw ``$OPSBOOK_OUTPUT`` values)."""

    def __init__(self, setup: Setup) -> None:
        self.s = setup
        self.run_id: str = setup.run.id
        self.store = setup.store
        self.masker = Masker(setup.effective.secrets)
        self.deps = dependencies(setup.runbook)
        self.order = [step.id for step in setup.runbook.steps]
        self.by_id = {step.id: step for step in setup.runbook.steps}
        self.position = {sid: i for i, sid in enumerate(self.order)}
        self.dependents: dict[str, list[str]] = {sid: [] for sid in self.order}
        for sid, needs in self.deps.items():
            for need in needs:
                self.dependents[need].append(sid)
        self.unmet: dict[str, int] = {}
        self.frontier: set[str] = set()
        self.state: dict[str, StepState] = {}
        self._base_env: dict[str, str] | None = None
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
        self.contexts: dict[str, StepContext] = {}
        self.ask_lock = threading.Lock()
        self.rollback_cancel = threading.Event()
        """Set with the steps' cancel events: stops the rollback command in flight."""

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
            return self._interrupted()
        finally:
            self.lease.stop()
            self.checkpoints.close()
            for ctx in self.contexts.values():
                ctx.cancelled.set()
            shutil.rmtree(self.workdir, ignore_errors=True)  # $OPSBOOK_OUTPUT files: raw values
            proclife.release_folder(self.workdir)

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
                    self._reap(sid)
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
            f"step(s) {', '.join(steps)} were interrupted mid-way and are not safe to run again;"
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
        # Dependency counting keeps each scheduling decision O(dependents), not O(steps).
        self.unmet = {
            sid: sum(1 for d in self.deps[sid] if not self._dep_done(d)) for sid in self.order
        }
        self.frontier = {sid for sid in self.order if self.unmet[sid] == 0}
        failure: str | None = None
        running: dict[Future[StepState], str] = {}
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            while True:
                if failure is None and not self.lost.is_set() and not self.abort.is_set():
                    for sid in self._ready(running.values()):
                        if len(running) >= concurrency:
                            break
                        step = self.by_id[sid]
                        try:
                            will_run = self._condition(step)
                        except ExpressionError as err:  # fails the step, as any failure does
                            failure = failure or self._condition_failed(step, err)
                            self._mark_done(sid)
                            break
                        if not will_run:
                            self._set_step(
                                sid,
                                StepStatus.SKIPPED,
                                event=EventType.STEP_SKIPPED,
                                condition=step.if_ or "",
                                finished_at=time.time(),
                            )
                            self._mark_done(sid)
                            continue
                        if not running and len(self.frontier) == 1:
                            # A lone ready step runs in this thread: a sequential runbook pays
                            # no thread hand-off per step.
                            run_here = functools.partial(self._run_step, inline=True)
                            running[_inline(run_here, step)] = sid
                            break
                        running[pool.submit(self._run_step, step)] = sid
                    if not running and self._ready(()):
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
                    self._mark_done(sid)
                    step = self.by_id[sid]
                    stops = st.status == StepStatus.FAILED and not step.continue_on_error
                    if stops and failure is None:
                        failure = f"step {sid} failed: {st.result.get('message', '')}".rstrip(": ")

    def _ready(self, running: Any) -> list[str]:
        busy = set(running)
        self.frontier = {
            sid for sid in self.frontier if self.state[sid].status == StepStatus.PENDING
        }
        return sorted(
            (sid for sid in self.frontier if sid not in busy), key=self.position.__getitem__
        )

    def _mark_done(self, sid: str) -> None:
        if not self._dep_done(sid):
            return
        for child in self.dependents[sid]:
            self.unmet[child] -= 1
            if self.unmet[child] == 0:
                self.frontier.add(child)

    def _dep_done(self, sid: str) -> bool:
        st = self.state[sid]
        if st.status in DONE:
            return True
        return st.status == StepStatus.FAILED and self.by_id[sid].continue_on_error

    def _condition(self, step: Step) -> bool:
        if step.if_ is None:
            return True
        return ex.condition(step.if_, self._context())

    def _record_process(self, sid: str, attempt: int, pgid: int) -> None:
        """Where the attempt's processes run, so a later run can kill what a crash left."""
        with self.txn() as conn:
            q.finish_attempt(
                conn,
                self.run_id,
                sid,
                Phase.EXECUTE,
                attempt,
                pgid=pgid,
                host=proclife.host(),
                boot_id=proclife.boot_id(),
            )

    def _reap(self, sid: str) -> None:
        """Kill what is left of a crashed attempt of ``sid`` before it runs again."""
        with self.store.begin() as conn:
            last = processes.last_attempt(conn, self.run_id, sid)
        done = proclife.kill_stale(last, self.run_id) if last is not None else None
        if done:
            self.emit(EventType.STEP_REAPED, sid, message=done)

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

    def renderer(self) -> Callable[[str], str]:
        """Render templates; the context (O(steps) to build) is made on first use only."""
        cache: list[dict[str, Any]] = []

        def render(text: str) -> str:
            if "${{" not in text:
                return text
            if not cache:
                cache.append(self._context())
            return ex.render(text, cache[0])

        return render

    def _context(self) -> dict[str, Any]:
        run = self.s.run
        steps = {
            sid: {
                "outputs": st.outputs,
                "status": st.status,
                "outcome": _OUTCOME.get(st.status, ""),
            }
            for sid, st in self.state.items()
        }
        return expression_context(
            self.s.loaded,
            self.s.effective,
            self.s.params,
            run={
                "id": self.run_id,
                "operator": run.operator,
                "runbook": run.runbook,
                "started_at": run.started_at or run.created_at,
                "git_sha": run.git_sha or "",
            },
            steps=steps,
        )

    # ----- one step ------------------------------------------------------------------------

    def _run_step(self, step: Step, *, inline: bool = False) -> StepState:
        kind = get_kind(step.kind)
        st = self.state[step.id]
        render = self.renderer()

        irreversible = kind.is_irreversible(
            step.config, step, self.s.loaded.root, self.s.loaded.spec
        )
        if step.confirm and not self._confirmed(step, render):
            return st
        env = self.process_env(step, render)
        delay = float(step.retry.delay)
        for n in range(step.retry.attempts):
            attempt = st.attempts + 1
            output = CappedOutput()
            ctx = self._attempt_context(step, attempt, env, render, output)
            self._start_attempt(step, attempt, kind.describe(step.config, self._masked(render)))
            started = time.time()
            result = self._execute_kind(step, ctx)
            if ctx.cancelled.is_set() and (self.lost.is_set()):
                raise LeaseLost(LOST, run=self.run_id)
            last = result.ok or result.paused or n == step.retry.attempts - 1
            last = last or self.abort.is_set()
            self._finish_attempt(
                step,
                attempt,
                result,
                output,
                started=started,
                final=last,
                irreversible=irreversible or result.irreversible,
                defer=inline and result.ok,
            )
            if last:
                break
            wait_for = delay * (step.retry.backoff**n)
            self.emit(
                EventType.STEP_RETRY,
                step.id,
                attempt=attempt,
                delay=wait_for,
                message=self.masker(result.message),
            )
            if wait_for and ctx.cancelled.wait(wait_for):
                break
        return st

    def _attempt_context(
        self,
        step: Step,
        attempt: int,
        env: dict[str, str],
        render: Callable[[str], str],
        output: CappedOutput,
    ) -> StepContext:
        out_file = self.workdir / f"{step.id}.{attempt}.out"
        env["OPSBOOK_OUTPUT"] = str(out_file)
        ctx = self.step_context(step, attempt, env, render, output)
        ctx.output_file = out_file
        ctx.decide = functools.partial(self._decide, step.id)
        ctx.deadline = functools.partial(self._deadline, step.id)
        ctx.pause_waits_over = self.s.pause_waits_over
        ctx.extra["on_spawn"] = functools.partial(self._record_process, step.id, attempt)
        return ctx

    def _execute_kind(self, step: Step, ctx: StepContext) -> StepResult:
        """The kind's one attempt; any error but a lost lease fails the step, not the run."""
        self.contexts[step.id] = ctx
        try:
            return get_kind(step.kind).execute(ctx, step.config)
        except LeaseLost:
            raise
        except OpsbookError as err:
            return StepResult(ok=False, message=str(err))
        except Exception as err:  # a kind's bug must fail the step, not the executor
            return StepResult(ok=False, message=f"{type(err).__name__}: {err}")
        finally:
            self.contexts.pop(step.id, None)

    def step_context(
        self,
        step: Step,
        attempt: int,
        env: dict[str, str],
        render: Callable[[str], str],
        output: CappedOutput,
    ) -> StepContext:
        """What a kind gets to execute (or roll back) one attempt of a step."""
        return StepContext(
            run_id=self.run_id,
            step=step,
            spec=self.s.loaded.spec,
            environment=self.s.effective.name,
            operator=self.s.operator,
            attempt=attempt,
            root=self.s.loaded.root,
            env=dict(env),
            render=render,
            log=self.logger(step.id, output),
            timeout=step.timeout,
            secrets=tuple(self.masker.secrets),
            loaded=self.s.loaded,
            record=functools.partial(self._record_event, step.id),
            recorded=functools.partial(self._recorded, step.id),
            store=self.store,
        )

    def _asks(self, sid: str) -> bool:
        """Whether a paused step waits for a human (a gate, a confirmation, a kind's question)."""
        step = self.by_id[sid]
        return get_kind(step.kind).asks_humans or bool(step.confirm)

    def _record_event(self, sid: str, type_: str, data: dict[str, Any]) -> None:
        with self.txn() as conn:
            chain.append(
                conn,
                type_,
                run_id=self.run_id,
                step_id=sid,
                actor=self.s.operator,
                data=_as_dict(self.masker.mask_data(data)),
            )

    def _recorded(self, sid: str, type_: str) -> list[dict[str, Any]]:
        with self.store.begin() as conn:
            return chain.step_events(conn, self.run_id, sid, type_)

    def _masked(self, render: Callable[[str], str]) -> Callable[[str], str]:
        return lambda text: self.masker(render(text))

    def process_env(self, step: Step, render: Callable[[str], str]) -> dict[str, str]:
        if self._base_env is None:  # copying os.environ decodes every variable: once per run
            self._base_env = {**os.environ, **self.s.effective.values}
        env = dict(self._base_env)
        env.update({k: render(environ._text(v)) for k, v in step.env.items()})
        env.update(
            OPSBOOK_RUN_ID=self.run_id,
            OPSBOOK_STEP_ID=step.id,
            OPSBOOK_ENVIRONMENT=self.s.effective.name,
            OPSBOOK_OPERATOR=self.s.operator,
        )
        return env

    def logger(self, sid: str, output: CappedOutput) -> Callable[[str], None]:
        def log(line: str) -> None:
            masked = self.masker(line)
            output.add(masked)
            self.emit(EventType.STEP_OUTPUT, sid, line=masked)

        return log

    def _start_attempt(self, step: Step, attempt: int, action: str) -> None:
        now = time.time()
        # The previous step's deferred end and this start append their events together.
        txn = self.txn(now, batch=True)
        with txn as conn:
            values: dict[str, Any] = {"attempts": attempt, "owner": self.s.owner}
            if self.state[step.id].attempts == 0:
                values["started_at"] = now
            q.step_transition(
                conn,
                self.run_id,
                step.id,
                from_={StepStatus.PENDING, StepStatus.RUNNING},
                to=StepStatus.RUNNING,
                **values,
            )
            q.insert_attempt(
                conn,
                run_id=self.run_id,
                step_id=step.id,
                phase=Phase.EXECUTE,
                attempt=attempt,
                status=StepStatus.RUNNING,
                started_at=now,
                owner=self.s.owner,
            )
            txn.events.append(
                chain.NewEvent(
                    EventType.STEP_STARTED,
                    self.s.operator,
                    self.run_id,
                    step.id,
                    {"attempt": attempt, "kind": step.kind, "action": action},
                    now,
                )
            )
        st = self.state[step.id]
        st.status, st.attempts = StepStatus.RUNNING, attempt
        self.emit(EventType.STEP_STARTED, step.id, attempt=attempt, kind=step.kind, action=action)

    def _finish_attempt(
        self,
        step: Step,
        attempt: int,
        result: StepResult,
        output: CappedOutput,
        *,
        started: float,
        final: bool,
        irreversible: bool,
        defer: bool = False,
    ) -> None:
        """Record how an attempt went.

        With ``defer`` (a step that succeeded in the scheduler's own thread) the writes join the
        scheduler's very next transaction (the next step's start, a skip, or the run's end), so a
        sequential runbook commits once per step boundary instead of twice. Nothing runs in
        between: a crash there leaves the step ``running`` exactly as a crash a moment earlier.
        """
        end = self._attempt_end(step, attempt, result, final=final, irreversible=irreversible)
        write = functools.partial(self._write_end, end, output.text())
        if defer:
            self.checkpoints.defer(write)
        else:
            txn = self.txn(end.at)
            with txn as conn:
                write(conn, txn.events)
        st = self.state[step.id]
        st.status = end.step_status
        if final:
            st.outputs, st.result = end.outputs, end.record
            st.finished_at = None if result.paused else end.at
        self.emit(
            end.event,
            step.id,
            attempt=attempt,
            duration=end.at - started,
            message=end.message,
            exit_code=result.exit_code,
            tail=output.tail(5),
            continue_on_error=step.continue_on_error,
        )

    def _attempt_end(
        self, step: Step, attempt: int, result: StepResult, *, final: bool, irreversible: bool
    ) -> _AttemptEnd:
        """What an attempt's end records (masked): statuses, outputs, result and event."""
        if result.paused:
            attempt_status = step_status = StepStatus.WAITING
            event = EventType.GATE_WAITING if self._asks(step.id) else EventType.STEP_PAUSED
        else:
            attempt_status = StepStatus.SUCCEEDED if result.ok else StepStatus.FAILED
            step_status = attempt_status if final else StepStatus.RUNNING
            event = _ATTEMPT_EVENT[attempt_status] if final else EventType.STEP_ATTEMPT_FAILED
        message = self.masker(result.message)
        return _AttemptEnd(
            step_id=step.id,
            attempt=attempt,
            at=time.time(),
            attempt_status=attempt_status,
            step_status=step_status,
            event=event,
            message=message,
            exit_code=result.exit_code,
            outputs={k: self.masker(v) for k, v in result.outputs.items()},
            record={
                "message": message,
                "exit_code": result.exit_code,
                "irreversible": irreversible and result.ok,
                "data": self.masker.mask_data(result.data),
            },
            final=final,
            paused=result.paused,
        )

    def _write_end(
        self, end: _AttemptEnd, output: str, conn: Any, events: list[chain.NewEvent]
    ) -> None:
        q.finish_attempt(
            conn,
            self.run_id,
            end.step_id,
            Phase.EXECUTE,
            end.attempt,
            status=end.attempt_status,
            finished_at=end.at,
            exit_code=end.exit_code,
            output=output,
            message=end.message,
        )
        values: dict[str, Any] = {}
        if end.final:
            finished = None if end.paused else end.at
            values.update(outputs=end.outputs, result=end.record, finished_at=finished)
        q.step_transition(
            conn,
            self.run_id,
            end.step_id,
            from_={StepStatus.RUNNING},
            to=end.step_status,
            **values,
        )
        data = {
            "attempt": end.attempt,
            "exit_code": end.exit_code,
            "message": end.message,
            "outputs": end.outputs,
            "output_sha256": integrity.digest(output),
        }
        events.append(
            chain.NewEvent(end.event, self.s.operator, self.run_id, end.step_id, data, end.at)
        )

    # ----- gates, confirmations and waits --------------------------------------------------

    def _confirmed(self, step: Step, render: Callable[[str], str]) -> bool:
        """``confirm:``: a human answers like at a gate, about the exact command (masked).

        Unanswered, the step waits (the run pauses as at a gate); rejected, it fails.
        """
        masked = self._masked(render)
        items = confirm_items(step, get_kind(step.kind).describe(step.config, masked), masked)
        decision = self._decide(step.id, items, confirm=True)
        if decision.approved:
            return True
        st = self.state[step.id]
        if decision.approved is None:
            status, event = StepStatus.WAITING, EventType.GATE_WAITING
            st.result = {"message": "waiting for confirmation", "confirm": items}
        else:
            status, event = StepStatus.FAILED, EventType.STEP_FAILED
            note = f": {decision.note}" if decision.note else ""
            st.result = {"message": f"not confirmed: rejected by {decision.operator}{note}"}
            st.finished_at = time.time()
        with self.txn() as conn:
            q.step_transition(
                conn, self.run_id, step.id, from_={st.status}, to=status, result=st.result
            )
            chain.append(
                conn,
                event,
                run_id=self.run_id,
                step_id=step.id,
                actor=self.s.operator,
                data={"confirm": items, "message": st.result["message"]},
            )
        st.status = status
        self.emit(event, step.id, confirm=items, message=st.result["message"])
        return False

    def _decide(self, sid: str, items: list[str], *, confirm: bool = False) -> Decision:
        with self.store.begin() as conn:
            row = q.get_approval(conn, self.run_id, sid)
            recorded = row is not None and integrity.approval_is_recorded(conn, row)
        if row is not None and not recorded:
            # Written into the table by hand, not by opsbook: the gate stays unanswered.
            self.emit(EventType.APPROVAL_REFUSED, sid, message=integrity.refused(row))
            return Decision(None)
        refused = row and approval_policy.recorded_problem(self.s.loaded, self.s.run, row)
        if refused:
            self.emit(EventType.APPROVAL_REFUSED, sid, message=f"{refused}; the gate waits")
            return Decision(None)
        if row is not None:
            return Decision(row.decision == "approved", row.operator, row.note or "")
        protected = self.s.effective.environment.protected
        evidence = self._evidence(items)
        if confirm:
            evidence["confirm"] = True
        if self.s.effective.environment.approvers is not None:
            return Decision(None)  # answered only through `opsbook approve` (approvals.policy)
        if self.s.yes and not protected:
            return self._record(
                sid,
                Decision(True, self.s.operator, "auto-approved (--yes)"),
                evidence,
                via=approval_policy.AUTO,
            )
        if self.s.ask is not None:
            self.emit(EventType.GATE_ASKING, sid, items=items)
            with self.ask_lock:
                decision = self.s.ask(sid, items, evidence)
            if decision.approved is not None:
                return self._record(sid, decision, evidence)
        return Decision(None)

    def _evidence(self, items: list[str]) -> dict[str, Any]:
        return {
            "items": [self.masker(i) for i in items],
            "outputs": {sid: st.outputs for sid, st in self.state.items() if st.outputs},
            "done": [sid for sid in self.order if self.state[sid].status in DONE],
        }

    def _record(
        self, sid: str, decision: Decision, evidence: dict[str, Any], via: str = "human"
    ) -> Decision:
        verb = "approved" if decision.approved else "rejected"
        note = self.masker(decision.note)
        with self.txn() as conn:
            q.insert_approval(
                conn,
                run_id=self.run_id,
                step_id=sid,
                decision=verb,
                operator=decision.operator,
                note=note,
                evidence=evidence,
                created_at=time.time(),
                via=via,
            )
            chain.append(
                conn,
                EventType.GATE_APPROVED if decision.approved else EventType.GATE_REJECTED,
                run_id=self.run_id,
                step_id=sid,
                actor=decision.operator,
                data={
                    "note": note,
                    "via": via,
                    **({"confirm": evidence["items"]} if "confirm" in evidence else {}),
                },
            )
        return Decision(decision.approved, decision.operator, note)

    def _deadline(self, sid: str, seconds: float) -> float:
        st = self.state[sid]
        if st.wake_at is None:
            st.wake_at = time.time() + seconds
            with self.txn() as conn:
                q.set_step(conn, self.run_id, sid, wake_at=st.wake_at)
        return st.wake_at

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
        gates = [sid for sid in paused if self._asks(sid)]
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


def _as_dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


_OUTCOME = {
    StepStatus.SUCCEEDED: "success",
    StepStatus.FAILED: "failure",
    StepStatus.SKIPPED: "skipped",
}
"""A step's ``outcome`` as expressions see it (GitHub Actions' words)."""

_ATTEMPT_EVENT = {
    StepStatus.SUCCEEDED: EventType.STEP_SUCCEEDED,
    StepStatus.FAILED: EventType.STEP_FAILED,
}

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
