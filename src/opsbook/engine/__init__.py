"""Durable execution: leases with a heartbeat, fenced checkpoints, rollback, run lifecycle.

Library entry points (one per CLI command): :func:`start_run`, :func:`resume_run`,
:func:`approve`, :func:`resolve`, :func:`abort`, :func:`work`.
"""

from opsbook.engine.lifecycle import (
    abort,
    approve,
    raise_for_outcome,
    resolve,
    resume_run,
    start_run,
    work,
)
from opsbook.engine.observe import Observer, RunEvent
from opsbook.engine.runner import Outcome

__all__ = [
    "Observer",
    "Outcome",
    "RunEvent",
    "abort",
    "approve",
    "raise_for_outcome",
    "resolve",
    "resume_run",
    "start_run",
    "work",
]
