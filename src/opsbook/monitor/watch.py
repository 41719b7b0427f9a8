"""``opsbook watch``: the loop that evaluates, queues notifications and sends them.

Each interval runs every tick (see monitor/ticks.py) at the current time. ``--now`` shifts the
clock: the loop starts at that instant and advances with the real clock, so a drill over
recorded logs is the same code as production. The loop stops cleanly when ``stop`` is set
(Ctrl-C, SIGTERM), between ticks, never in the middle of a transaction.

While a watch runs, its metrics are read through one source context kept for the whole loop, so
``logs`` sources tail their files (each tick reads only the bytes appended since the last; see
``sources/logtail.py``). ``monitor eval`` and ``replay`` read the full window at their ``--now``.

Between ticks the loop looks at the log files' sizes every :data:`POLL` seconds (a stat per
file): when one changed, the next tick starts early, as soon as half an interval has passed
since the last one began. A line written to a quiet log is evaluated within about 0.2 s instead
of up to a whole interval later; a log written all the time is evaluated at most twice an
interval.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

from opsbook.clock import utcnow
from opsbook.monitor.ticks import Tick, TickResult, owner_id, run_ticks
from opsbook.sources.logtail import files_signature

if TYPE_CHECKING:
    from opsbook.monitor.metrics import Reading
    from opsbook.sources.base import SourceContext
    from opsbook.spec.loader import LoadedSpec
    from opsbook.store import Store

DEFAULT_INTERVAL = 1.0
POLL = 0.2
"""Seconds between looks at the log files' sizes while the loop waits."""
EARLIEST = 0.5
"""Share of the interval that must pass before a changed log file starts the next tick."""

SLO_STEPS = "slo-steps"
"""Key, in a watch's source context cache, of its SLOs' completed steps (see monitor.slo)."""

_tailing: dict[int, SourceContext] = {}
"""The source context of each running watch, by id of its LoadedSpec."""


def tailing_context(loaded: LoadedSpec) -> SourceContext:
    """A source context whose ``logs`` sources tail their files across calls."""
    from opsbook.monitor.metrics import source_context
    from opsbook.sources.logtail import TAILING

    ctx = source_context(loaded)
    ctx.cache[TAILING] = True
    return ctx


def tailed_readings(ctx: SourceContext, now: datetime) -> dict[str, Reading]:
    """Every metric at ``now`` read through a tailing context."""
    from opsbook.monitor.metrics import read_series

    series = read_series(ctx, list(ctx.spec.metrics), [now])
    return {name: series[name][0] for name in ctx.spec.metrics}


def _monitor(store: Store, loaded: LoadedSpec, now: datetime) -> object:
    from opsbook.monitor.evaluate import evaluate
    from opsbook.notify.intake import expire_intake

    expire_intake(store, loaded, now)
    ctx = _tailing.get(id(loaded))
    if ctx is None:
        return evaluate(store, loaded, now)
    steps = ctx.cache.setdefault(SLO_STEPS, {})
    return evaluate(store, loaded, now, readings=tailed_readings(ctx, now), steps_cache=steps)


def _notify(store: Store, loaded: LoadedSpec, now: datetime) -> object:
    from opsbook.notify.dispatch import dispatch

    return dispatch(store, loaded, now)


def _deliver(store: Store, loaded: LoadedSpec, now: datetime) -> object:
    from opsbook.notify.outbox import deliver

    return deliver(store, loaded, owner_id())


# The built-in ticks, registered like a plugin's (entry-point group opsbook.ticks, pyproject.toml).
MONITOR = Tick("monitor", _monitor, order=10)
NOTIFY = Tick("notify", _notify, order=20)
DELIVER = Tick("deliver", _deliver, order=30)


def _changed(ctx: SourceContext, seen: tuple[tuple[str, int, int, int], ...]) -> bool:
    return files_signature(ctx) != seen


def _pause(
    stop: threading.Event, began: float, interval: float, changed: Callable[[], bool]
) -> None:
    """Wait until ``interval`` after ``began``, or until a log file changed once
    ``EARLIEST * interval`` has passed, or until ``stop`` is set."""
    while not stop.is_set():
        elapsed = time.monotonic() - began
        if elapsed >= interval or (elapsed >= EARLIEST * interval and changed()):
            return
        stop.wait(min(POLL, interval - elapsed))


def watch(
    store: Store,
    loaded: LoadedSpec,
    *,
    interval: float = DEFAULT_INTERVAL,
    start: datetime | None = None,
    stop: threading.Event | None = None,
    max_ticks: int | None = None,
    on_tick: Callable[[datetime, list[TickResult]], None] | None = None,
) -> int:
    """Run ticks every ``interval`` seconds until ``stop`` is set; returns how many ran."""
    stop = stop or threading.Event()
    offset = (start - utcnow()) if start is not None else timedelta(0)
    count = 0
    ctx = _tailing[id(loaded)] = tailing_context(loaded)
    try:
        while not stop.is_set():
            began = time.monotonic()
            seen = files_signature(ctx)  # before the read: a line written during it wakes us
            now = utcnow() + offset
            results = run_ticks(store, loaded, now, owner_id())
            count += 1
            if on_tick is not None:
                on_tick(now, results)
            if max_ticks is not None and count >= max_ticks:
                break
            _pause(stop, began, interval, partial(_changed, ctx, seen))
    finally:
        _tailing.pop(id(loaded), None)
    return count
