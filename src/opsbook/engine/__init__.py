"""Durable execution: leases with a heartbeat, fenced checkpoints, rollback, run lifecycle.

Library entry points (one per CLI command): :func:`start_run`, :func:`resume_run`,
:func:`approve`, :func:`resolve`, :func:`abort`, :func:`work`. Run and step states and event
types are in :mod:`opsbook.engine.states`, which imports nothing else: the names below load
their modules on first use, so the store and the console can import the states alone.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opsbook.engine.lifecycle import (
        abort,
        approve,
        raise_for_abort,
        raise_for_outcome,
        resolve,
        resume_run,
        start_run,
        work,
    )
    from opsbook.engine.observe import Observer, RunEvent
    from opsbook.engine.runner import Outcome

_WHERE = {
    "Observer": "observe",
    "RunEvent": "observe",
    "Outcome": "runner",
    "abort": "lifecycle",
    "approve": "lifecycle",
    "raise_for_abort": "lifecycle",
    "raise_for_outcome": "lifecycle",
    "resolve": "lifecycle",
    "resume_run": "lifecycle",
    "start_run": "lifecycle",
    "work": "lifecycle",
}

__all__ = [
    "Observer",
    "Outcome",
    "RunEvent",
    "abort",
    "approve",
    "raise_for_abort",
    "raise_for_outcome",
    "resolve",
    "resume_run",
    "start_run",
    "work",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'opsbook.engine' has no attribute {name!r}")
    return getattr(importlib.import_module(f"opsbook.engine.{module}"), name)
