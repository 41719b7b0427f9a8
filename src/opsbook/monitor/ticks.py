"""Periodic work of ``opsbook watch``: a registry of tick handlers, each run under a lease.

A tick handler is ``handler(store, loaded, now)``; it is registered with :func:`register_tick`
or through the ``opsbook.ticks`` entry-point group (a callable, or a :class:`Tick`). Each tick
runs at most once per ``every`` seconds across all ``watch`` processes sharing a store: the
process that takes the tick's lease does the work, the others skip it. Built in, and registered
through the same entry-point group (pyproject.toml): ``monitor`` (evaluate metrics and alerts),
``notify`` (queue due notifications) and ``deliver`` (send the outbox), all in
:mod:`opsbook.monitor.watch`, and ``incidents`` (escalation timers, schedules).
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opsbook.spec.loader import LoadedSpec
    from opsbook.store import Store

GROUP = "opsbook.ticks"
Handler = Callable[["Store", "LoadedSpec", datetime], Any]


@dataclass(frozen=True)
class Tick:
    """A named handler and how often it runs (0: every watch interval)."""

    name: str
    handler: Handler
    every: float = 0.0
    lease: float = 60.0
    order: int = 100


_registered: dict[str, Tick] = {}


def register_tick(name: str, handler: Handler, *, every: float = 0.0, order: int = 100) -> Tick:
    """Add a tick handler (replaces one of the same name)."""
    tick = Tick(name, handler, every, order=order)
    _registered[name] = tick
    return tick


@cache
def _from_entry_points() -> tuple[Tick, ...]:
    found = []
    for ep in entry_points(group=GROUP):
        value = ep.load()
        found.append(value if isinstance(value, Tick) else Tick(ep.name, value))
    return tuple(found)


def ticks() -> list[Tick]:
    """Every tick, built-in first, in order."""
    merged = {t.name: t for t in _from_entry_points()}
    merged.update(_registered)
    return sorted(merged.values(), key=lambda t: (t.order, t.name))


@cache
def owner_id() -> str:
    """This process's identity in leases (one per process)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class TickResult:
    name: str
    ran: bool
    result: Any = None
    error: str | None = None


def run_ticks(
    store: Store, loaded: LoadedSpec, now: datetime, owner: str, only: list[str] | None = None
) -> list[TickResult]:
    """Run every tick whose lease this owner takes; the others are skipped."""
    from opsbook.store.monitoring import finish_lease, take_lease

    results = []
    for tick in ticks():
        if only is not None and tick.name not in only:
            continue
        name = f"{loaded.spec.project}:tick:{tick.name}"
        with store.begin() as conn:
            taken = take_lease(conn, name, owner, time.time(), tick.lease, tick.every)
        if not taken:
            results.append(TickResult(tick.name, False))
            continue
        try:
            results.append(TickResult(tick.name, True, tick.handler(store, loaded, now)))
        except Exception as err:
            from opsbook.errors import OpsbookError

            if not isinstance(err, OpsbookError):
                raise
            results.append(TickResult(tick.name, True, error=str(err)))
        finally:
            with store.begin() as conn:
                finish_lease(conn, name, owner, time.time())
    return results
