"""One step's attempts: start, execute, record the end, retry; each a checkpoint.

An attempt is committed ``running`` before its kind executes and its end after; the process
group a ``run`` step starts is recorded between the two, so a later run on the same machine can
kill what a crash left (:meth:`Attempts.reap`). A step that succeeded in the scheduler's own
thread defers its end to the next transaction (see :meth:`Attempts.run`).
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from opsbook import proclife
from opsbook.engine.gates import asks_humans
from opsbook.engine.output import CappedOutput
from opsbook.engine.states import EventType, Phase, StepState, StepStatus
from opsbook.errors import LeaseLost, OpsbookError, StateMoved
from opsbook.steps.base import StepContext, StepResult
from opsbook.steps.registry import get_kind
from opsbook.store import events as chain
from opsbook.store import integrity, processes
from opsbook.store import runs as q

if TYPE_CHECKING:
    from opsbook.engine.checkpoint import Checkpoints, Fenced
    from opsbook.engine.gates import Gates
    from opsbook.engine.inputs import StepInputs
    from opsbook.engine.setup import Setup
    from opsbook.masking import Masker
    from opsbook.spec.models import Step
    from opsbook.store import Store

LOST = (
    "another process took this run over (this one's lease expired or was taken);"
    " this process stopped its steps and wrote nothing more"
)


class StepHost(Protocol):
    """What running a step's command needs from the executor holding the run, forward (an
    attempt) or backward (a rollback): the run's values and a context for the step's kind."""

    run_id: str
    masker: Masker
    workdir: Path
    """The run's private folder (``$OPSBOOK_OUTPUT`` files hold raw values)."""

    inputs: StepInputs
    """What each attempt is given: rendered templates, environment, log, StepContext."""

    def emit(self, type_: EventType, sid: str | None, **data: Any) -> None: ...


class AttemptHost(StepHost, Protocol):
    """What attempts need besides (the executor is one)."""

    store: Store
    s: Setup
    checkpoints: Checkpoints
    gates: Gates
    lost: threading.Event
    abort: threading.Event
    contexts: dict[str, StepContext]
    """The contexts of the attempts executing now: cancelling one stops its step."""

    @property
    def state(self) -> Mapping[str, StepState]: ...
    def txn(self, now: float | None = None, *, batch: bool = False) -> Fenced: ...


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


_ATTEMPT_EVENT = {
    StepStatus.SUCCEEDED: EventType.STEP_SUCCEEDED,
    StepStatus.FAILED: EventType.STEP_FAILED,
}


class Attempts:
    """Runs the attempts of one executor's steps (any thread of its scheduler)."""

    def __init__(self, host: AttemptHost) -> None:
        self.x = host

    def run(self, step: Step, *, inline: bool = False) -> StepState:
        """``confirm:`` first, then attempts until one succeeds, pauses, or retries run out.

        ``inline``: the scheduler's own thread runs the step (nothing else runs), so a success
        defers its end to the scheduler's next transaction.
        """
        kind = get_kind(step.kind)
        st = self.x.state[step.id]
        render = self.x.inputs.renderer()

        irreversible = kind.is_irreversible(
            step.config, step, self.x.s.loaded.root, self.x.s.loaded.spec
        )

        def masked(text: str) -> str:
            return self.x.masker(render(text))

        if step.confirm and not self.x.gates.confirmed(step, masked):
            return st
        env = self.x.inputs.process_env(step, render)
        delay = float(step.retry.delay)
        for n in range(step.retry.attempts):
            attempt = st.attempts + 1
            output = CappedOutput()
            out_file = self.x.workdir / f"{step.id}.{attempt}.out"
            env["OPSBOOK_OUTPUT"] = str(out_file)
            ctx = self.x.inputs.step_context(step, attempt, env, render, output)
            self._prepare(ctx, out_file, step.id, attempt)
            self._start(step, attempt, kind.describe(step.config, masked))
            started = time.time()
            result = self._execute_kind(step, ctx)
            if ctx.cancelled.is_set() and self.x.lost.is_set():
                raise LeaseLost(LOST, run=self.x.run_id)
            last = result.ok or result.paused or n == step.retry.attempts - 1
            last = last or self.x.abort.is_set()
            self._finish(
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
            self.x.emit(
                EventType.STEP_RETRY,
                step.id,
                attempt=attempt,
                delay=wait_for,
                message=self.x.masker(result.message),
            )
            if wait_for and ctx.cancelled.wait(wait_for):
                break
        return st

    def _prepare(self, ctx: StepContext, out_file: Path, sid: str, attempt: int) -> None:
        """An attempt's context: where its outputs go, and how it asks, waits and spawns."""
        ctx.output_file = out_file
        ctx.decide = functools.partial(self.x.gates.decide, sid)
        ctx.deadline = functools.partial(self.x.gates.deadline, sid)
        ctx.pause_waits_over = self.x.s.pause_waits_over
        ctx.extra["on_spawn"] = functools.partial(self.record_process, sid, attempt)

    def _execute_kind(self, step: Step, ctx: StepContext) -> StepResult:
        """The kind's one attempt; any error but a lost lease fails the step, not the run."""
        self.x.contexts[step.id] = ctx
        try:
            return get_kind(step.kind).execute(ctx, step.config)
        except LeaseLost:
            raise
        except OpsbookError as err:
            return StepResult(ok=False, message=str(err))
        except Exception as err:  # a kind's bug must fail the step, not the executor
            return StepResult(ok=False, message=f"{type(err).__name__}: {err}")
        finally:
            self.x.contexts.pop(step.id, None)

    def record_process(self, sid: str, attempt: int, pgid: int) -> None:
        """Where the attempt's processes run, so a later run can kill what a crash left."""
        with self.x.txn() as conn:
            q.finish_attempt(
                conn,
                self.x.run_id,
                sid,
                Phase.EXECUTE,
                attempt,
                pgid=pgid,
                host=proclife.host(),
                boot_id=proclife.boot_id(),
            )

    def reap(self, sid: str) -> None:
        """Kill what is left of a crashed attempt of ``sid`` before it runs again."""
        with self.x.store.begin() as conn:
            last = processes.last_attempt(conn, self.x.run_id, sid)
        done = proclife.kill_stale(last, self.x.run_id) if last is not None else None
        if done:
            self.x.emit(EventType.STEP_REAPED, sid, message=done)

    def _start(self, step: Step, attempt: int, action: str) -> None:
        now = time.time()
        # The previous step's deferred end and this start append their events together.
        txn = self.x.txn(now, batch=True)
        with txn as conn:
            values: dict[str, Any] = {"attempts": attempt, "owner": self.x.s.owner}
            if self.x.state[step.id].attempts == 0:
                values["started_at"] = now
            q.step_transition(
                conn,
                self.x.run_id,
                step.id,
                from_={StepStatus.PENDING, StepStatus.RUNNING},
                to=StepStatus.RUNNING,
                **values,
            )
            q.insert_attempt(
                conn,
                run_id=self.x.run_id,
                step_id=step.id,
                phase=Phase.EXECUTE,
                attempt=attempt,
                status=StepStatus.RUNNING,
                started_at=now,
                owner=self.x.s.owner,
            )
            txn.events.append(
                chain.NewEvent(
                    EventType.STEP_STARTED,
                    self.x.s.operator,
                    self.x.run_id,
                    step.id,
                    {"attempt": attempt, "kind": step.kind, "action": action},
                    now,
                )
            )
        st = self.x.state[step.id]
        st.status, st.attempts = StepStatus.RUNNING, attempt
        self.x.emit(EventType.STEP_STARTED, step.id, attempt=attempt, kind=step.kind, action=action)

    def _finish(
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
        end = self._end(step, attempt, result, final=final, irreversible=irreversible)
        write = functools.partial(self._write_end, end, output.text())
        if defer:
            self.x.checkpoints.defer(write)
        else:
            txn = self.x.txn(end.at)
            with txn as conn:
                write(conn, txn.events)
        st = self.x.state[step.id]
        st.status = end.step_status
        if final:
            st.outputs, st.result = end.outputs, end.record
            st.finished_at = None if result.paused else end.at
        self.x.emit(
            end.event,
            step.id,
            attempt=attempt,
            duration=end.at - started,
            message=end.message,
            exit_code=result.exit_code,
            tail=output.tail(5),
            continue_on_error=step.continue_on_error,
        )

    def _end(
        self, step: Step, attempt: int, result: StepResult, *, final: bool, irreversible: bool
    ) -> _AttemptEnd:
        """What an attempt's end records (masked): statuses, outputs, result and event."""
        if result.paused:
            attempt_status = step_status = StepStatus.WAITING
            event = EventType.GATE_WAITING if asks_humans(step) else EventType.STEP_PAUSED
        else:
            attempt_status = StepStatus.SUCCEEDED if result.ok else StepStatus.FAILED
            step_status = attempt_status if final else StepStatus.RUNNING
            event = _ATTEMPT_EVENT[attempt_status] if final else EventType.STEP_ATTEMPT_FAILED
        message = self.x.masker(result.message)
        return _AttemptEnd(
            step_id=step.id,
            attempt=attempt,
            at=time.time(),
            attempt_status=attempt_status,
            step_status=step_status,
            event=event,
            message=message,
            exit_code=result.exit_code,
            outputs={k: self.x.masker(v) for k, v in result.outputs.items()},
            record={
                "message": message,
                "exit_code": result.exit_code,
                "irreversible": irreversible and result.ok,
                "data": self.x.masker.mask_data(result.data),
            },
            final=final,
            paused=result.paused,
        )

    def _write_end(
        self, end: _AttemptEnd, output: str, conn: Any, events: list[chain.NewEvent]
    ) -> None:
        q.finish_attempt(
            conn,
            self.x.run_id,
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
        try:
            q.step_transition(
                conn,
                self.x.run_id,
                end.step_id,
                from_={StepStatus.RUNNING},
                to=end.step_status,
                **values,
            )
        except StateMoved as moved:
            if moved.current == end.step_status and self._landed(conn, end):
                return
            raise
        data = {
            "attempt": end.attempt,
            "exit_code": end.exit_code,
            "message": end.message,
            "outputs": end.outputs,
            "output_sha256": integrity.digest(output),
        }
        events.append(
            chain.NewEvent(end.event, self.x.s.operator, self.x.run_id, end.step_id, data, end.at)
        )

    def _landed(self, conn: Any, end: _AttemptEnd) -> bool:
        """Whether this very end is recorded already. A deferred end rides on the scheduler's
        next transaction; a Ctrl-C that lands after that transaction's commit, before its
        ``with`` returns, hands the end back as not written, and the transaction that records
        the interruption writes it again: the second time is a no-op, not a state error (which
        left the run ``running`` and exited 2)."""
        if not end.final or end.paused:
            return False
        return bool(q.get_step(conn, self.x.run_id, end.step_id).finished_at == end.at)
