"""``opsbook monitor replay``: evaluate over a past interval in memory; nothing is stored or sent.

Metrics are read for every instant at once (one query per log source when the instants tile the
time line), then the same pure state machine as ``watch`` steps through them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from opsbook.errors import UsageError
from opsbook.monitor.anomaly import Baselines
from opsbook.monitor.evaluate import AlertStatus, step_alerts
from opsbook.monitor.metrics import Reading, read_series, source_context
from opsbook.monitor.slo import earliest_needed, status_from_steps
from opsbook.monitor.slo import sli_steps as slo_steps
from opsbook.monitor.state import AlertState, Transition
from opsbook.spec.loader import LoadedSpec

MAX_STEPS = 200_000


@dataclass
class Replay:
    """Every transition of an interval, and each alert's final state."""

    start: datetime
    end: datetime
    every: float
    steps: int = 0
    transitions: list[Transition] = field(default_factory=list)
    final: list[AlertStatus] = field(default_factory=list)
    readings: dict[str, list[Reading]] = field(default_factory=dict)
    states: list[tuple[datetime, list[tuple[str, AlertState]]]] = field(default_factory=list)

    def states_at(self, at: datetime) -> list[tuple[str, AlertState]]:
        """Each alert instance's state at the last evaluation at or before ``at``."""
        found: list[tuple[str, AlertState]] = []
        for when, states in self.states:
            if when > at:
                break
            found = states
        return found

    @property
    def errors(self) -> dict[str, str]:
        """The first error of each metric a source could not read (its instants had no data)."""
        out: dict[str, str] = {}
        for name, per_time in self.readings.items():
            found = next((r.error for r in per_time if r.error), None)
            if found:
                out[name] = found
        return out


def instants(start: datetime, end: datetime, every: float) -> list[datetime]:
    """start, start+every, ... up to and including end."""
    if every <= 0:
        raise UsageError("--every must be longer than 0s", hint="e.g. --every 1m")
    if end < start:
        raise UsageError("--to is before --from", hint="swap them")
    count = int((end - start).total_seconds() // every) + 1
    if count > MAX_STEPS:
        raise UsageError(
            f"{count} evaluations from --from to --to every {every:g}s is too many",
            hint=f"use a longer --every or a shorter interval (at most {MAX_STEPS})",
        )
    return [start + timedelta(seconds=every * i) for i in range(count)]


def replay(
    loaded: LoadedSpec,
    start: datetime,
    end: datetime,
    every: float,
    *,
    environment: str | None = None,
    metrics: list[str] | None = None,
    record_states: bool = False,
) -> Replay:
    """Evaluate every alert at each instant from start to end; transitions in time order."""
    times = instants(start, end, every)
    spec = loaded.spec
    names = metrics or sorted({a.metric for a in spec.alerts.values()})
    ctx = source_context(loaded, environment)
    series = read_series(ctx, names, times)
    result = Replay(start, end, every, len(times), readings=series)
    # Each SLO's per-step counts are read once for the whole interval.
    steps = {
        name: slo_steps(ctx, name, slo, times[-1], earliest_needed(slo, times[0]), None, "")
        for name, slo in spec.slos.items()
    }
    baselines = Baselines(ctx, spec, times)  # each anomaly metric's history, read once
    previous: dict[tuple[str, str], AlertStatus] = {}
    statuses: list[AlertStatus] = []
    for index, now in enumerate(times):
        readings = {name: series[name][index] for name in names}
        holds: dict[str, tuple[bool | None, float | None]] = {}
        for name, slo in spec.slos.items():
            status = status_from_steps(name, slo, steps[name], now)
            for kind in ("page", "ticket"):
                holds[f"{name}:{kind}"] = (status.holds(kind), status.top_rate(kind))
        bands = baselines.truths(readings, now)
        statuses, changes = step_alerts(spec, readings, previous, now, holds, bands)
        previous = {(s.alert, s.fingerprint): s for s in statuses}
        result.transitions.extend(changes)
        if record_states:
            result.states.append((now, [(s.alert, s.state) for s in statuses]))
    result.final = statuses
    return result
