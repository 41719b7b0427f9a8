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
import tempfile
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
from opsbook.engine.observe import Observer, RunEvent
from opsbook.engine.output import CappedOutput
from opsbook.errors import ExpressionError, LeaseLost, OpsbookError
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

LEASE_ENV = "OPSBOOK_LEASE_SECONDS"
CONCURRENCY_ENV = "OPSBOOK_CONCURRENCY"
DONE = ("succeeded", "skipped")
LOST = (
    "another process took this run over (this one's lease expired or was taken);"
    " this process stopped its steps and wrote nothing more"
)

Ask = Callable[[str, list[str], dict[str, Any]], Decision]
"""Asks a person about a gate: (step id, items, evidence) → decision."""


def lease_seconds() -> float:
    return float(os.environ.get(LEASE_ENV, "15"))


@dataclass
class Outcome:
    """How an executor left a run."""

    run_id: str
    status: str
    message: str = ""
    summary: dict[str, Any] = field(default_factory=dict)
    waiting_on: list[str] = field(default_factory=list)


@dataclass
class StepState:
    status: str
    attempts: int = 0
    outputs: dict[str, str] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)
    finished_at: float | None = None
    wake_at: float | None = None


@dataclass
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

    def __init__(self, setup: Setup) -> None:
        self.s = setup
        self.run_id: str = setup.run.id
        self.store = setup.store
        self.masker = Masker(setup.effective.secrets)
        self.ttl = lease_seconds()
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
        self.lost = threading.Event()
        self.abort = threading.Event()
        self.contexts: dict[str, StepContext] = {}
        self.ask_lock = threading.Lock()
        self.deferred: list[Callable[[Any, list[chain.NewEvent]], None]] = []
        self.deferred_lock = threading.Lock()
        self.stop_heartbeat = threading.Event()
        self.workdir = Path(tempfile.mkdtemp(prefix=f"opsbook-{self.run_id}-"))

    # ----- the whole run -------------------------------------------------------------------

    def execute(self) -> Outcome:
        heartbeat = threading.Thread(target=self._heartbeat, daemon=True)
        heartbeat.start()
        try:
            return self._execute()
        except LeaseLost:
            self._emit("lease_lost", None, message=LOST)
            return Outcome(self.run_id, "lease_lost", LOST)
        except KeyboardInterrupt:
            return self._interrupted()
        finally:
            self.stop_heartbeat.set()
            for ctx in self.contexts.values():
                ctx.cancelled.set()
            shutil.rmtree(self.workdir, ignore_errors=True)  # $OPSBOOK_OUTPUT files: raw values

    def _execute(self) -> Outcome:
        with self.store.begin() as conn:
            run = q.get_run(conn, self.run_id)
            rows = q.get_steps(conn, self.run_id)
        for sid in self.order:
            row = rows.get(sid)
            self.state[sid] = StepState(
                status=row.status if row else "pending",
                attempts=row.attempts if row else 0,
                outputs=dict(row.outputs or {}) if row else {},
                result=dict(row.result or {}) if row else {},
                finished_at=row.finished_at if row else None,
                wake_at=row.wake_at if row else None,
            )
        self._emit(
            "run_resumed" if run.started_at else "run_started",
            None,
            runbook=run.runbook,
            environment=run.environment,
            operator=self.s.operator,
        )
        if run.started_at is None:
            with self._txn() as conn:
                q.set_run(conn, self.run_id, started_at=time.time())
        if run.status in ("aborting", "rolling_back"):
            reason = (run.summary or {}).get("reason", "aborted")
            return self._rollback_and_finish(reason, aborted=run.status == "aborting")
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
        with self.store.begin() as conn:
            row = q.get_run(conn, self.run_id)
        if row.status == "aborting" or self.abort.is_set():
            reason = (row.summary or {}).get("reason", "aborted by an operator")
            return self._rollback_and_finish(reason, aborted=True)
        if failure:
            return self._rollback_and_finish(failure, aborted=False)
        paused = [sid for sid in self.order if self.state[sid].status == "waiting"]
        if paused:
            return self._pause(paused)
        stuck = [sid for sid in self.order if self.state[sid].status not in (*DONE, "failed")]
        if stuck:  # never expected; refuse to call a run done that did not do everything
            return self._rollback_and_finish(
                "steps never became ready: " + ", ".join(stuck), aborted=False
            )
        return self._finish("succeeded", "all steps done", {})

    def _failed(self, sid: str) -> bool:
        return self.state[sid].status == "failed" and not self.by_id[sid].continue_on_error

    # ----- recovery ------------------------------------------------------------------------

    def _recover(self) -> list[str]:
        """Steps a crash interrupted: reset the safe ones, return those needing a human."""
        attention: list[str] = []
        for sid in self.order:
            st = self.state[sid]
            if st.status == "waiting":  # a gate or a paused timer: look again
                self._set_step(sid, "pending", event="step_rechecked")
            elif st.status in ("running", "interrupted"):
                step = self.by_id[sid]
                if get_kind(step.kind).safe_to_rerun or step.idempotent:
                    self._reap(sid)
                    why = (
                        "idempotent" if step.idempotent else f"{step.kind} steps are safe to rerun"
                    )
                    self._set_step(
                        sid, "pending", event="step_interrupted", action="rerun", reason=why
                    )
                else:
                    attention.append(sid)
        return attention

    def _needs_attention(self, steps: list[str]) -> Outcome:
        message = (
            f"step(s) {', '.join(steps)} were interrupted mid-way and are not safe to run again;"
            f" decide with `opsbook resolve {self.run_id} STEP --rerun|--skip|--mark-done`"
        )
        with self._txn() as conn:
            for sid in steps:
                q.set_step(conn, self.run_id, sid, status="interrupted")
                self.state[sid].status = "interrupted"
            q.set_run(
                conn,
                self.run_id,
                status="needs_attention",
                lease_owner=None,
                lease_expires_at=None,
                error=message,
            )
            chain.append(
                conn,
                "run_needs_attention",
                run_id=self.run_id,
                actor=self.s.operator,
                data={"steps": steps},
            )
        self._emit("run_needs_attention", None, steps=steps, message=message)
        return Outcome(self.run_id, "needs_attention", message, {"interrupted": steps})

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
                                "skipped",
                                event="step_skipped",
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
                    if st.status == "failed" and not step.continue_on_error and failure is None:
                        failure = f"step {sid} failed: {st.result.get('message', '')}".rstrip(": ")

    def _ready(self, running: Any) -> list[str]:
        busy = set(running)
        self.frontier = {sid for sid in self.frontier if self.state[sid].status == "pending"}
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
        return st.status == "failed" and self.by_id[sid].continue_on_error

    def _condition(self, step: Step) -> bool:
        if step.if_ is None:
            return True
        return ex.condition(step.if_, self._context())

    def _record_process(self, sid: str, attempt: int, pgid: int) -> None:
        """Where the attempt's processes run, so a later run can kill what a crash left."""
        with self._txn() as conn:
            q.finish_attempt(
                conn,
                self.run_id,
                sid,
                "execute",
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
            self._emit("step_reaped", sid, message=done)

    def _condition_failed(self, step: Step, err: ExpressionError) -> str:
        message = self.masker(f"if: {err}")
        self._set_step(
            step.id, "failed", event="step_failed", finished_at=time.time(), message=message
        )
        self.state[step.id].result = {"message": message}
        return f"step {step.id} failed: {message}"

    def _renderer(self) -> Callable[[str], str]:
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
                "outcome": {"succeeded": "success", "failed": "failure", "skipped": "skipped"}.get(
                    st.status, ""
                ),
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

    def _run_step(self, step: Step, inline: bool = False) -> StepState:
        kind = get_kind(step.kind)
        st = self.state[step.id]
        render = self._renderer()

        irreversible = kind.is_irreversible(
            step.config, step, self.s.loaded.root, self.s.loaded.spec
        )
        if step.confirm and not self._confirmed(step, render):
            return st
        env = self._process_env(step, render)
        delay = float(step.retry.delay)
        for n in range(step.retry.attempts):
            attempt = st.attempts + 1
            output = CappedOutput()
            out_file = self.workdir / f"{step.id}.{attempt}.out"
            env["OPSBOOK_OUTPUT"] = str(out_file)
            ctx = self.step_context(step, attempt, env, render, output)
            ctx.output_file = out_file
            ctx.decide = functools.partial(self._decide, step.id)
            ctx.deadline = functools.partial(self._deadline, step.id)
            ctx.extra["pause_waits_over"] = self.s.pause_waits_over
            ctx.extra["on_spawn"] = functools.partial(self._record_process, step.id, attempt)
            self.contexts[step.id] = ctx
            self._start_attempt(step, attempt, kind.describe(step.config, self._masked(render)))
            started = time.time()
            try:
                result = kind.execute(ctx, step.config)
            except LeaseLost:
                raise
            except OpsbookError as err:
                result = StepResult(ok=False, message=str(err))
            except Exception as err:  # a kind's bug must fail the step, not the executor
                result = StepResult(ok=False, message=f"{type(err).__name__}: {err}")
            finally:
                self.contexts.pop(step.id, None)
            if ctx.cancelled.is_set() and (self.lost.is_set()):
                raise LeaseLost(LOST, run=self.run_id)
            last = result.ok or result.paused or n == step.retry.attempts - 1
            last = last or self.abort.is_set()
            self._finish_attempt(
                step,
                attempt,
                result,
                output,
                started,
                last,
                irreversible or result.irreversible,
                defer=inline and result.ok,
            )
            if last:
                break
            wait_for = delay * (step.retry.backoff**n)
            self._emit(
                "step_retry",
                step.id,
                attempt=attempt,
                delay=wait_for,
                message=self.masker(result.message),
            )
            if wait_for and ctx.cancelled.wait(wait_for):
                break
        return st

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
            log=self._logger(step.id, output),
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
        with self._txn() as conn:
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

    def _process_env(self, step: Step, render: Callable[[str], str]) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.s.effective.values)
        env.update({k: render(environ._text(v)) for k, v in step.env.items()})
        env.update(
            OPSBOOK_RUN_ID=self.run_id,
            OPSBOOK_STEP_ID=step.id,
            OPSBOOK_ENVIRONMENT=self.s.effective.name,
            OPSBOOK_OPERATOR=self.s.operator,
        )
        return env

    def _logger(self, sid: str, output: CappedOutput) -> Callable[[str], None]:
        def log(line: str) -> None:
            masked = self.masker(line)
            output.add(masked)
            self._emit("step_output", sid, line=masked)

        return log

    def _start_attempt(self, step: Step, attempt: int, action: str) -> None:
        now = time.time()
        # The previous step's deferred end and this start append their events together.
        txn = self._txn(now, batch=True)
        with txn as conn:
            values: dict[str, Any] = {
                "status": "running",
                "attempts": attempt,
                "owner": self.s.owner,
            }
            if self.state[step.id].attempts == 0:
                values["started_at"] = now
            q.set_step(conn, self.run_id, step.id, **values)
            q.insert_attempt(
                conn,
                run_id=self.run_id,
                step_id=step.id,
                phase="execute",
                attempt=attempt,
                status="running",
                started_at=now,
                owner=self.s.owner,
            )
            txn.events.append(
                chain.NewEvent(
                    "step_started",
                    self.s.operator,
                    self.run_id,
                    step.id,
                    {"attempt": attempt, "kind": step.kind, "action": action},
                    now,
                )
            )
        st = self.state[step.id]
        st.status, st.attempts = "running", attempt
        self._emit("step_started", step.id, attempt=attempt, kind=step.kind, action=action)

    def _finish_attempt(
        self,
        step: Step,
        attempt: int,
        result: StepResult,
        output: CappedOutput,
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
        now = time.time()
        message = self.masker(result.message)
        outputs = {k: self.masker(v) for k, v in result.outputs.items()}
        if result.paused:
            attempt_status = step_status = "waiting"
        else:
            attempt_status = "succeeded" if result.ok else "failed"
            step_status = attempt_status if final else "running"
        record = {
            "message": message,
            "exit_code": result.exit_code,
            "irreversible": irreversible and result.ok,
            "data": self.masker.mask_data(result.data),
        }
        event = (
            ("gate_waiting" if self._asks(step.id) else "step_paused")
            if result.paused
            else (f"step_{attempt_status}" if final else "step_attempt_failed")
        )

        def write(conn: Any, events: list[chain.NewEvent]) -> None:
            q.finish_attempt(
                conn,
                self.run_id,
                step.id,
                "execute",
                attempt,
                status=attempt_status,
                finished_at=now,
                exit_code=result.exit_code,
                output=output.text(),
                message=message,
            )
            values: dict[str, Any] = {"status": step_status}
            if final:
                values.update(
                    outputs=outputs, result=record, finished_at=None if result.paused else now
                )
            q.set_step(conn, self.run_id, step.id, **values)
            events.append(
                chain.NewEvent(
                    event,
                    self.s.operator,
                    self.run_id,
                    step.id,
                    {
                        "attempt": attempt,
                        "exit_code": result.exit_code,
                        "message": message,
                        "outputs": outputs,
                        "output_sha256": integrity.digest(output.text()),
                    },
                    now,
                )
            )

        if defer:
            with self.deferred_lock:
                self.deferred.append(write)
        else:
            txn = self._txn(now)
            with txn as conn:
                write(conn, txn.events)
        st = self.state[step.id]
        st.status = step_status
        if final:
            st.outputs, st.result = outputs, record
            st.finished_at = None if result.paused else now
        self._emit(
            event,
            step.id,
            attempt=attempt,
            duration=now - started,
            message=message,
            exit_code=result.exit_code,
            tail=output.tail(5),
            continue_on_error=step.continue_on_error,
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
            status, event = "waiting", "gate_waiting"
            st.result = {"message": "waiting for confirmation", "confirm": items}
        else:
            status, event = "failed", "step_failed"
            note = f": {decision.note}" if decision.note else ""
            st.result = {"message": f"not confirmed: rejected by {decision.operator}{note}"}
            st.finished_at = time.time()
        with self._txn() as conn:
            q.set_step(conn, self.run_id, step.id, status=status, result=st.result)
            chain.append(
                conn,
                event,
                run_id=self.run_id,
                step_id=step.id,
                actor=self.s.operator,
                data={"confirm": items, "message": st.result["message"]},
            )
        st.status = status
        self._emit(event, step.id, confirm=items, message=st.result["message"])
        return False

    def _decide(self, sid: str, items: list[str], *, confirm: bool = False) -> Decision:
        with self.store.begin() as conn:
            row = q.get_approval(conn, self.run_id, sid)
            recorded = row is not None and integrity.approval_is_recorded(conn, row)
        if row is not None and not recorded:
            # Written into the table by hand, not by opsbook: the gate stays unanswered.
            self._emit("approval_refused", sid, message=integrity.refused(row))
            return Decision(None)
        refused = row and approval_policy.recorded_problem(self.s.loaded, self.s.run, row)
        if refused:
            self._emit("approval_refused", sid, message=f"{refused}; the gate waits")
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
            self._emit("gate_asking", sid, items=items)
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
        with self._txn() as conn:
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
                f"gate_{verb}",
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
            with self._txn() as conn:
                q.set_step(conn, self.run_id, sid, wake_at=st.wake_at)
        return st.wake_at

    # ----- rollback ------------------------------------------------------------------------

    def _rollback_and_finish(self, reason: str, *, aborted: bool) -> Outcome:
        with self._txn() as conn:
            q.set_run(
                conn,
                self.run_id,
                status="rolling_back" if not aborted else "aborting",
                summary={"reason": reason},
                error=self.masker(reason),
            )
            chain.append(
                conn,
                "rollback_started",
                run_id=self.run_id,
                actor=self.s.operator,
                data={"reason": self.masker(reason)},
            )
        self._emit("rollback_started", None, reason=self.masker(reason))
        summary = rollback.undo(self)
        summary["reason"] = self.masker(reason)
        if aborted:
            status = "aborted"
        elif summary["stopped_at"] or summary["rollback_failed"]:
            status = "failed"
        else:
            status = "rolled_back"
        return self._finish(status, rollback.message(reason, summary), summary)

    # ----- endings -------------------------------------------------------------------------

    def _finish(self, status: str, message: str, summary: dict[str, Any]) -> Outcome:
        now = time.time()
        message = self.masker(message)
        with self._txn(now) as conn:
            q.set_run(
                conn,
                self.run_id,
                status=status,
                finished_at=now,
                lock_key=None,
                lease_owner=None,
                lease_expires_at=None,
                summary=summary,
                error=None if status == "succeeded" else message,
            )
            chain.append(
                conn,
                "run_finished",
                run_id=self.run_id,
                actor=self.s.operator,
                at=now,
                data={"status": status, "message": message},
            )
        self._emit("run_finished", None, status=status, message=message, summary=summary)
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
            with self._txn() as conn:
                q.set_run(conn, self.run_id, lease_owner=None, lease_expires_at=None)
                chain.append(
                    conn, "run_interrupted", run_id=self.run_id, actor=self.s.operator, data={}
                )
        except LeaseLost:
            pass
        self._emit("run_interrupted", None, message=message)
        return Outcome(self.run_id, "interrupted", message)

    def _pause(self, paused: list[str]) -> Outcome:
        gates = [sid for sid in paused if self._asks(sid)]
        timers = [sid for sid in paused if sid not in gates]
        with self._txn() as conn:
            q.set_run(conn, self.run_id, status="waiting", lease_owner=None, lease_expires_at=None)
            chain.append(
                conn,
                "run_paused",
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
        self._emit("run_paused", None, gates=gates, timers=timers, message=message)
        return Outcome(self.run_id, "waiting", message, waiting_on=paused)

    # ----- plumbing ------------------------------------------------------------------------

    def _txn(self, now: float | None = None, *, batch: bool = False) -> _Fenced:
        return _Fenced(self, time.time() if now is None else now, batch=batch)

    def _set_step(
        self, sid: str, status: str, *, event: str, finished_at: float | None = None, **data: Any
    ) -> None:
        with self._txn() as conn:
            values: dict[str, Any] = {"status": status}
            if finished_at is not None:
                values["finished_at"] = finished_at
            q.set_step(conn, self.run_id, sid, **values)
            chain.append(
                conn, event, run_id=self.run_id, step_id=sid, actor=self.s.operator, data=data
            )
        self.state[sid].status = status
        if finished_at is not None:
            self.state[sid].finished_at = finished_at
        self._emit(event, sid, **data)

    def _emit(self, type_: str, sid: str | None, **data: Any) -> None:
        self.s.observer(RunEvent(type_, self.run_id, sid, data))

    def _cancel_all(self) -> None:
        for ctx in list(self.contexts.values()):
            ctx.cancelled.set()

    def _heartbeat(self) -> None:
        while not self.stop_heartbeat.wait(self.ttl / 3):
            try:
                with self.store.begin() as conn:
                    status = q.renew_lease(conn, self.run_id, self.s.owner, time.time(), self.ttl)
            except OpsbookError:
                continue  # the store is briefly unavailable; the lease may still hold
            if status is None:
                self.lost.set()
                self._cancel_all()
                return
            if status == "aborting" and not self.abort.is_set():
                self.abort.set()
                self._cancel_all()


def _as_dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _inline(fn: Callable[[Step], StepState], step: Step) -> Future[StepState]:
    """Run fn now and return its result as a completed future."""
    future: Future[StepState] = Future()
    try:
        future.set_result(fn(step))
    except BaseException as err:  # delivered through the future, as the pool would
        future.set_exception(err)
    return future


class _Fenced:
    """A store transaction that first asserts this executor still holds the lease.

    It also writes the deferred end of the step before (see ``_finish_attempt``). Events put in
    ``events`` are appended when the block ends, before the commit, with one read of the chain
    head. Without ``batch`` the deferred events are appended at once, so that events the block
    appends itself with ``chain.append`` come after them.
    """

    def __init__(self, executor: Executor, now: float, *, batch: bool = False) -> None:
        self.executor = executor
        self.now = now
        self.batch = batch
        self.events: list[chain.NewEvent] = []
        self._cm: Any = None
        self._conn: Any = None

    def __enter__(self) -> Any:
        self._cm = self.executor.store.begin()
        conn = self._conn = self._cm.__enter__()
        try:
            q.fence(conn, self.executor.run_id, self.executor.s.owner, self.now)
            with self.executor.deferred_lock:
                pending, self.executor.deferred = self.executor.deferred, []
            for write in pending:
                write(conn, self.events)
            if not self.batch:
                self._append_events()
        except BaseException as err:
            self._cm.__exit__(type(err), err, err.__traceback__)
            if isinstance(err, LeaseLost):
                self.executor.lost.set()
            raise
        return conn

    def __exit__(self, *exc: Any) -> Any:
        if exc[0] is None:
            try:
                self._append_events()
            except BaseException as err:
                # The transaction rolls back; the error (as the store translates it) propagates.
                self._cm.__exit__(type(err), err, err.__traceback__)
                raise
        return self._cm.__exit__(*exc)

    def _append_events(self) -> None:
        if self.events:
            chain.append_many(self._conn, self.events)
            self.events = []


def _confirming(st: StepState) -> str:
    """For a paused ``confirm:`` step, what the approval confirms (already masked)."""
    items = st.result.get("confirm")
    return " to confirm: " + "; ".join(items) if items else ""
