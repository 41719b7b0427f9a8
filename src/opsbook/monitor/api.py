"""Library calls other packages use to ask monitoring a question at ``now``.

Rollout analysis and flag guards ask "does alert X hold now?" or "what is metric Y now?":

    >>> check = evaluate_alert(loaded, "high_error_rate", now)        # doctest: +SKIP
    >>> check.holds, check.firing
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from opsbook.errors import UsageError
from opsbook.monitor.metrics import Reading, read_metric, source_context
from opsbook.monitor.state import AlertState

if TYPE_CHECKING:
    from opsbook.monitor.evaluate import AlertStatus
    from opsbook.spec.loader import LoadedSpec
    from opsbook.store import Store


def _known(kind: str, name: str, names: list[str]) -> None:
    if name not in names:
        raise UsageError(f"unknown {kind} '{name}'", hint=f"known: {', '.join(names) or 'none'}")


def metric_value(
    loaded: LoadedSpec, name: str, now: datetime, *, environment: str | None = None
) -> Reading:
    """A metric's samples at ``now`` (``Reading.error`` says why there are none)."""
    _known("metric", name, list(loaded.spec.metrics))
    return read_metric(source_context(loaded, environment), name, now)


@dataclass
class AlertCheck:
    """An alert rule's condition at ``now`` and, with a store, its stored state."""

    alert: str
    holds: bool | None
    """True when the condition holds for some label set now, None when there is no data."""
    reading: Reading
    stored: list[AlertStatus] = field(default_factory=list)

    @property
    def firing(self) -> bool:
        """Stored state firing (or, without a store, the condition holding now)."""
        if self.stored:
            return any(s.state == AlertState.FIRING for s in self.stored)
        return bool(self.holds)


def evaluate_alert(
    loaded: LoadedSpec,
    name: str,
    now: datetime,
    *,
    store: Store | None = None,
    environment: str | None = None,
) -> AlertCheck:
    """Whether the named alert's condition holds at ``now`` (SLO burn-rate alerts included:
    ``SLO:page`` / ``SLO:ticket``); reads nothing but the alert's metric."""
    from opsbook.monitor import slo as slos

    spec = loaded.spec
    if name in slos.burn_alert_names(spec):
        holds = slos.burn_alert_holds(loaded, name, now, store=store, environment=environment)
        return AlertCheck(name, holds, Reading(name))
    _known("alert", name, list(spec.alerts))
    alert = spec.alerts[name]
    reading = read_metric(source_context(loaded, environment), alert.metric, now)
    condition = alert.condition
    values = [s.value for s in reading.samples if s.value is not None]
    holds = None if not values or condition is None else any(condition.holds(v) for v in values)
    stored: list[AlertStatus] = []
    if store is not None:
        from opsbook.monitor.evaluate import load_statuses

        stored = [s for (a, _), s in load_statuses(store, spec.project).items() if a == name]
    return AlertCheck(name, holds, reading, stored)
