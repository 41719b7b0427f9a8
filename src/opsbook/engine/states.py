"""Run and step states, event types, and the transitions allowed between states.

Every status the store holds is a member of :class:`RunStatus` or :class:`StepStatus`; every
event type written to the log or shown while a run executes is an :class:`EventType`. Nothing
compares status strings: code matches on these members, so a renamed state or event fails type
checking instead of silently matching nothing.

A status write names the states it expects to leave (``transition(run, from_={...}, to=...)`` in
:mod:`opsbook.store.runs`); the store checks the move against :data:`RUN_TRANSITIONS` (or
:data:`STEP_TRANSITIONS`) and updates only a row still in one of those states, so a write that
lost a race (an abort committed a moment earlier) fails loudly instead of overwriting it.

This module imports nothing from opsbook: the store, the console and the web use it freely.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class RunStatus(StrEnum):
    """Where a run is."""

    RUNNING = "running"  # an executor holds (or may take) its lease and runs steps
    WAITING = "waiting"  # paused at a question for a human or a long timer; lease released
    NEEDS_ATTENTION = "needs_attention"  # a step a crash interrupted is not safe to rerun
    ABORTING = "aborting"  # an operator asked to stop; the executor rolls back, then ends
    ROLLING_BACK = "rolling_back"  # a step failed; completed steps are being undone
    SUCCEEDED = "succeeded"  # every step done (final)
    FAILED = "failed"  # a step failed and the rollback stopped or failed (final)
    ROLLED_BACK = "rolled_back"  # a step failed and every completed step was undone (final)
    ABORTED = "aborted"  # stopped by an operator; see the summary for what was undone (final)

    @property
    def finished(self) -> bool:
        return self in FINISHED


class StepStatus(StrEnum):
    """Where a step of a run is (also the status of one attempt row)."""

    PENDING = "pending"  # not started, or reset to run again
    RUNNING = "running"  # an attempt is in flight (after a crash: interrupted mid-way)
    WAITING = "waiting"  # asked a human (or started a long timer) and paused the run
    SUCCEEDED = "succeeded"  # done
    FAILED = "failed"  # its last attempt failed
    SKIPPED = "skipped"  # its ``if:`` was false, or a human chose to skip it
    INTERRUPTED = "interrupted"  # a crash interrupted it and it is not safe to rerun
    ROLLING_BACK = "rolling_back"  # its rollback is in flight
    ROLLED_BACK = "rolled_back"  # its rollback succeeded
    ROLLBACK_FAILED = "rollback_failed"  # its rollback failed or was cancelled


class Halt(StrEnum):
    """How an executor stopped when the run itself did not reach a new state."""

    INTERRUPTED = "interrupted"  # Ctrl-C: steps in flight were killed, the lease released
    LEASE_LOST = "lease_lost"  # another process took the run over
    ERROR = "error"  # a worker could not set the run up (e.g. its env file is gone)
    QUEUED = "queued"  # created unleased for a worker to take; this process ran nothing


class Phase(StrEnum):
    """What an attempt row records."""

    EXECUTE = "execute"
    ROLLBACK = "rollback"


class EventType(StrEnum):
    """Every event written to the log or reported to a display while a run executes."""

    RUN_CREATED = "run_created"
    RUN_STARTED = "run_started"
    RUN_RESUMED = "run_resumed"
    RUN_LEASED = "run_leased"
    RUN_PAUSED = "run_paused"
    RUN_NEEDS_ATTENTION = "run_needs_attention"
    RUN_INTERRUPTED = "run_interrupted"
    RUN_FINISHED = "run_finished"
    LEASE_LOST = "lease_lost"
    HEARTBEAT_FAILED = "heartbeat_failed"
    ABORT_REQUESTED = "abort_requested"
    STEP_STARTED = "step_started"
    STEP_OUTPUT = "step_output"
    STEP_SUCCEEDED = "step_succeeded"
    STEP_FAILED = "step_failed"
    STEP_ATTEMPT_FAILED = "step_attempt_failed"
    STEP_RETRY = "step_retry"
    STEP_SKIPPED = "step_skipped"
    STEP_PAUSED = "step_paused"
    STEP_RECHECKED = "step_rechecked"
    STEP_INTERRUPTED = "step_interrupted"
    STEP_RESOLVED = "step_resolved"
    STEP_REAPED = "step_reaped"
    GATE_ASKING = "gate_asking"
    GATE_WAITING = "gate_waiting"
    GATE_APPROVED = "gate_approved"
    GATE_REJECTED = "gate_rejected"
    APPROVAL_REFUSED = "approval_refused"
    ROLLBACK_STARTED = "rollback_started"
    ROLLBACK_STEP_STARTED = "rollback_step_started"
    ROLLBACK_STOPPED = "rollback_stopped"
    STEP_ROLLED_BACK = "step_rolled_back"
    STEP_ROLLBACK_FAILED = "step_rollback_failed"
    WORKER_TOOK = "worker_took"
    WORKER_ERROR = "worker_error"


R = RunStatus
S = StepStatus

FINISHED = frozenset({R.SUCCEEDED, R.FAILED, R.ROLLED_BACK, R.ABORTED})
"""Final run states: nothing moves a run out of them."""
ACTIVE = frozenset(R) - FINISHED
"""Run states that still hold the environment lock."""
LEASABLE = frozenset({R.RUNNING, R.ABORTING, R.ROLLING_BACK})
"""Run states an executor takes a lease on and works in."""
DONE = frozenset({S.SUCCEEDED, S.SKIPPED})
"""Step states that satisfy a dependent's ``needs``."""

RUN_TRANSITIONS: Mapping[RunStatus, frozenset[RunStatus]] = {
    R.RUNNING: frozenset({R.WAITING, R.NEEDS_ATTENTION, R.ABORTING, R.ROLLING_BACK, R.SUCCEEDED}),
    R.WAITING: frozenset({R.RUNNING, R.ABORTING}),
    R.NEEDS_ATTENTION: frozenset({R.RUNNING, R.ABORTING}),
    R.ABORTING: frozenset({R.ABORTED}),
    R.ROLLING_BACK: frozenset({R.ABORTING, R.ROLLED_BACK, R.FAILED}),
    R.SUCCEEDED: frozenset(),
    R.FAILED: frozenset(),
    R.ROLLED_BACK: frozenset(),
    R.ABORTED: frozenset(),
}
"""Which run state may follow which. A state may always be written again over itself."""

STEP_TRANSITIONS: Mapping[StepStatus, frozenset[StepStatus]] = {
    S.PENDING: frozenset({S.RUNNING, S.SKIPPED, S.SUCCEEDED, S.WAITING, S.FAILED}),
    S.RUNNING: frozenset({S.PENDING, S.WAITING, S.SUCCEEDED, S.FAILED, S.INTERRUPTED}),
    S.WAITING: frozenset({S.PENDING}),
    S.SUCCEEDED: frozenset({S.ROLLING_BACK}),
    S.FAILED: frozenset(),
    S.SKIPPED: frozenset(),
    S.INTERRUPTED: frozenset({S.PENDING, S.SKIPPED, S.SUCCEEDED}),
    S.ROLLING_BACK: frozenset({S.ROLLED_BACK, S.ROLLBACK_FAILED}),
    S.ROLLED_BACK: frozenset(),
    S.ROLLBACK_FAILED: frozenset(),
}
"""Which step state may follow which. Resolving an interrupted step may skip or complete it; a
step that asks a human first (``confirm:``) waits or fails before it ever runs."""


@dataclass
class StepState:
    """An executor's view of one step of the run it holds (the store has the same, committed)."""

    status: StepStatus
    attempts: int = 0
    outputs: dict[str, str] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)
    finished_at: float | None = None
    wake_at: float | None = None


class IllegalTransition(ValueError):
    """A programming error: code asked for a move the transition table does not allow."""


def check_run(from_: Iterable[RunStatus], to: RunStatus) -> None:
    """Raise IllegalTransition unless ``to`` may follow every state of ``from_``."""
    _check(RUN_TRANSITIONS, from_, to, "run")


def check_step(from_: Iterable[StepStatus], to: StepStatus) -> None:
    """Raise IllegalTransition unless ``to`` may follow every state of ``from_``."""
    _check(STEP_TRANSITIONS, from_, to, "step")


def _check(
    table: Mapping[Any, frozenset[Any]], from_: Iterable[StrEnum], to: StrEnum, what: str
) -> None:
    bad = sorted(str(f) for f in from_ if to != f and to not in table[f])
    if bad:
        raise IllegalTransition(f"a {what} cannot go from {', '.join(bad)} to {to}")
