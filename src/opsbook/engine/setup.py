"""What an executor is given: the leased run, its spec and environment, and who runs it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opsbook import environ
from opsbook.engine.observe import Observer
from opsbook.spec.loader import LoadedSpec
from opsbook.spec.models import Runbook
from opsbook.steps.base import Decision
from opsbook.store import Store

Ask = Callable[[str, list[str], dict[str, Any]], Decision]
"""Asks a person about a gate: (step id, items, evidence) → decision."""


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
