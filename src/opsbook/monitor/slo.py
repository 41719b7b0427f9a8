"""SLOs: error budgets and multi-window multi-burn-rate alerts, optionally in business hours.

An SLI is counted in steps (``step``, default 5m): each step has ``total`` events and ``bad``
ones. A ratio SLI reads its ``good``/``bad`` and ``total`` metrics with ``over`` set to the
step, for every step of the window at once (one query per log source). A 1/0 SLI (a check, a
"backlog under 30 minutes" metric) is one event per step; a metric that only answers at ``now``
(a check) is sampled at each evaluation and its samples are kept in the store.

With a ``calendar``, only steps that start inside business hours count (time zone, weekdays,
hours, holidays): nights and weekends neither spend nor earn budget.

Every SLO adds two alerts, ``NAME:page`` and ``NAME:ticket``, true when any of their window
pairs burns faster than its factor in both windows (Sloth's 30-day table by default, scaled to
the SLO's window), and quiet while the long window holds fewer than ``min_events`` events.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from opsbook.monitor.config import Alert, BurnWindow, Metric, Ratio, Slo
from opsbook.spec.durations import parse_duration

if TYPE_CHECKING:
    from opsbook.monitor.metrics import Reading
    from opsbook.sources.base import SourceContext
    from opsbook.spec.loader import LoadedSpec
    from opsbook.spec.models import Spec
    from opsbook.store import Store

THIRTY_DAYS = 30 * 86400.0
# Sloth's table for a 30-day SLO: (long, short, factor, severity).
SLOTH = [
    (3600.0, 300.0, 14.4, "page"),
    (6 * 3600.0, 1800.0, 6.0, "page"),
    (86400.0, 7200.0, 3.0, "ticket"),
    (3 * 86400.0, 6 * 3600.0, 1.0, "ticket"),
]
CALENDAR_WINDOWS = ("day", "week", "month")


def window_seconds(slo: Slo) -> float:
    """The nominal length of the SLO window (a calendar month counts 30 days)."""
    return {"day": 86400.0, "week": 7 * 86400.0, "month": THIRTY_DAYS}.get(
        slo.window, 0.0
    ) or parse_duration(slo.window)


def burn_windows(slo: Slo) -> list[BurnWindow]:
    """The SLO's burn-rate windows: its own, or Sloth's scaled to its window (at least a step)."""
    if slo.alerts is not None:
        return list(slo.alerts)
    scale = window_seconds(slo) / THIRTY_DAYS
    return [
        BurnWindow(
            long=max(long * scale, slo.step),
            short=max(short * scale, slo.step),
            factor=factor,
            severity=severity,
        )
        for long, short, factor, severity in SLOTH
    ]


def window_start(slo: Slo, now: datetime) -> datetime:
    """Where the budget window starts: ``now - window``, or the start of the calendar day,
    week (Monday) or month."""
    if slo.window not in CALENDAR_WINDOWS:
        return now - timedelta(seconds=parse_duration(slo.window))
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if slo.window == "day":
        return day
    if slo.window == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


@dataclass
class Steps:
    """SLI counts per step, oldest first: (end of step, total events, bad events)."""

    rows: list[tuple[float, float, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rows.sort()
        self._ends = [r[0] for r in self.rows]
        self._total = list(itertools.accumulate((r[1] for r in self.rows), initial=0.0))
        self._bad = list(itertools.accumulate((r[2] for r in self.rows), initial=0.0))

    def between(self, start: float, end: float) -> tuple[float, float]:
        """Events and bad events of the steps ending in (start, end]."""
        lo = bisect.bisect_right(self._ends, start)
        hi = bisect.bisect_right(self._ends, end)
        return self._total[hi] - self._total[lo], self._bad[hi] - self._bad[lo]

    def last(self, count: int, end: float) -> tuple[float, float]:
        """Events and bad events of the last ``count`` steps ending at or before end."""
        hi = bisect.bisect_right(self._ends, end)
        lo = max(hi - max(count, 1), 0)
        return self._total[hi] - self._total[lo], self._bad[hi] - self._bad[lo]


@dataclass
class Burn:
    long: float
    short: float
    factor: float
    severity: str
    long_rate: float | None
    short_rate: float | None
    long_events: float

    @property
    def burning(self) -> bool:
        return (
            self.long_rate is not None
            and self.short_rate is not None
            and self.long_rate > self.factor
            and self.short_rate > self.factor
        )


@dataclass
class SloStatus:
    """An SLO at ``now``: its budget and burn rates."""

    name: str
    objective: float
    window: str
    total: float
    bad: float
    burns: list[Burn]
    min_events: int
    calendar: str | None

    @property
    def budget(self) -> float:
        """The allowed error ratio (1 - objective)."""
        return 1 - self.objective / 100

    @property
    def error_ratio(self) -> float | None:
        return self.bad / self.total if self.total else None

    @property
    def remaining(self) -> float | None:
        """The share of the error budget left (1.0 untouched, below 0 overspent)."""
        ratio = self.error_ratio
        return None if ratio is None else 1 - ratio / self.budget

    def top_rate(self, severity: str) -> float | None:
        """The highest long-window burn rate of the severity's window pairs."""
        rates = [
            b.long_rate for b in self.burns if b.severity == severity and b.long_rate is not None
        ]
        return max(rates) if rates else None

    def holds(self, severity: str) -> bool | None:
        pairs = [b for b in self.burns if b.severity == severity]
        if not pairs:
            return False
        if all(b.long_rate is None for b in pairs):
            return None
        return any(b.burning and b.long_events >= self.min_events for b in pairs)

    def to_dict(self) -> dict[str, object]:
        return {
            "slo": self.name,
            "objective": self.objective,
            "window": self.window,
            "calendar": self.calendar,
            "events": self.total,
            "bad": self.bad,
            "error_ratio": self.error_ratio,
            "budget": self.budget,
            "remaining": self.remaining,
            "burn_rates": [
                {
                    "long": b.long,
                    "short": b.short,
                    "factor": b.factor,
                    "severity": b.severity,
                    "long_rate": b.long_rate,
                    "short_rate": b.short_rate,
                    "long_events": b.long_events,
                }
                for b in self.burns
            ],
        }


def _step_metric(metric: Metric, step: float) -> Metric:
    return metric.model_copy(update={"over": step})


def _ends(start: datetime, now: datetime, step: float) -> list[datetime]:
    """Step ends after start up to now, on multiples of the step since the UNIX epoch: every
    evaluation (live, after a restart, or in a replay) counts the same steps."""
    last = now - timedelta(seconds=now.timestamp() % step)
    count = max(int((last - start).total_seconds() // step), 1)
    return [last - timedelta(seconds=step * i) for i in range(count, -1, -1)]


def sli_steps(
    ctx: SourceContext,
    slo_name: str,
    slo: Slo,
    now: datetime,
    start: datetime,
    store: Store | None,
    project: str,
    steps_cache: StepsCache | None = None,
) -> Steps:
    """Per-step counts of an SLI from ``start`` to ``now``."""
    spec = ctx.spec
    step = slo.step
    names = sli_metrics(slo)
    if any(spec.metrics[n].from_ is None for n in names):
        if store is None:
            return Steps([])
        return _stored_steps(store, project, slo_name, slo, start, now)
    # Every SLO with this step reads its SLI metrics over one step, at every step end, in one
    # pass per source (one query per log source for all of them), from the earliest step any of
    # them needs: the SLOs after the first find their steps read.
    key = ("sli", step, now.timestamp())
    held = ctx.cache.get(key)
    if held is None or held[0][0] >= start + timedelta(seconds=step):
        group = [
            s
            for s in spec.slos.values()
            if s.step == step and all(spec.metrics[n].from_ for n in sli_metrics(s))
        ]
        every = sorted({n for s in group for n in sli_metrics(s)})
        begin = min([start, *(earliest_needed(s, now) for s in group)])
        times_all = _ends(begin, now, step)
        shadow = spec.model_copy(
            update={
                "metrics": {
                    **spec.metrics,
                    **{n: _step_metric(spec.metrics[n], step) for n in every},
                }
            }
        )
        original, ctx.spec = ctx.spec, shadow
        try:
            ctx.cache[key] = (times_all, _read_steps(ctx, every, times_all, now, step, steps_cache))
        finally:
            ctx.spec = original
    times, series = ctx.cache[key]
    calendar = _calendar(spec, slo)
    rows = []
    for index, at in enumerate(times):
        if at < start:
            continue
        if calendar is not None and not _open(calendar, at - timedelta(seconds=step)):
            continue
        values = {n: series[n][index].value for n in names}
        if isinstance(slo.sli, Ratio):
            total = values[slo.sli.total]
            if total is None:
                continue
            if slo.sli.bad is not None:
                bad = values[slo.sli.bad] or 0.0
            else:
                bad = total - (values[str(slo.sli.good)] or 0.0)
            rows.append((at.timestamp(), float(total), max(float(bad), 0.0)))
        else:
            value = values[slo.sli]
            if value is None:
                continue
            rows.append((at.timestamp(), 1.0, 0.0 if value >= 1 else 1.0))
    return Steps(rows)


StepsCache = dict[tuple[tuple[str, ...], float, float], "list[Reading]"]
"""Readings of SLI metrics over whole past steps, by (metrics, step, step end), kept by a
``watch`` between its ticks."""


def _read_steps(
    ctx: SourceContext,
    names: list[str],
    times: list[datetime],
    now: datetime,
    step: float,
    cache: StepsCache | None,
) -> dict[str, list[Reading]]:
    """``read_series`` at every step end, reading only the steps ``cache`` does not hold.

    A step that ended one step or more before ``now`` is complete: its readings go into the
    cache, so a ``watch`` with a 30-day SLO reads one or two steps per tick instead of every
    step of the window. Readings with an error are never kept (the next tick asks again)."""
    from opsbook.monitor.metrics import read_series

    if cache is None:
        return read_series(ctx, names, times)
    group = tuple(names)
    ends = [t.timestamp() for t in times]
    missing = [t for t, at in zip(times, ends, strict=True) if (group, step, at) not in cache]
    fresh = read_series(ctx, names, missing) if missing else {n: [] for n in names}
    complete = now.timestamp() - step
    for i, t in enumerate(missing):
        readings = [fresh[n][i] for n in names]
        if t.timestamp() <= complete and all(r.error is None for r in readings):
            cache[(group, step, t.timestamp())] = readings
    oldest = ends[0] if ends else complete
    for key in [k for k in cache if k[0] == group and k[1] == step and k[2] < oldest]:
        del cache[key]  # older than the longest window: never asked for again
    index = {t.timestamp(): i for i, t in enumerate(missing)}
    out: dict[str, list[Reading]] = {n: [] for n in names}
    for at in ends:
        pos = index.get(at)
        row = [fresh[n][pos] for n in names] if pos is not None else cache[(group, step, at)]
        for n, reading in zip(names, row, strict=True):
            out[n].append(reading)
    return out


def sli_metrics(slo: Slo) -> list[str]:
    """The metrics an SLI reads."""
    if isinstance(slo.sli, Ratio):
        return [n for n in (slo.sli.good, slo.sli.bad, slo.sli.total) if n is not None]
    return [slo.sli]


def _calendar(spec: Spec, slo: Slo) -> object | None:
    if slo.calendar is None:
        return None
    return getattr(spec, "calendars", {}).get(slo.calendar)


def _open(calendar: object, at: datetime) -> bool:
    from opsbook.calendars import Calendar, is_open

    assert isinstance(calendar, Calendar)
    return is_open(calendar, at)


def sample_series(slo_name: str) -> str:
    return f"sli:{slo_name}"


def _stored_steps(
    store: Store, project: str, slo_name: str, slo: Slo, start: datetime, now: datetime
) -> Steps:
    from opsbook.store.monitoring import read_samples

    with store.begin() as conn:
        samples = read_samples(
            conn, project, sample_series(slo_name), start.timestamp(), now.timestamp()
        )
    return Steps([(at, 1.0, 0.0 if value >= 1 else 1.0) for at, value in samples])


def record_samples(
    store: Store, loaded: LoadedSpec, readings: Mapping[str, Reading], now: datetime
) -> None:
    """Keep this evaluation's sample of every SLO whose SLI only answers at ``now`` (checks)."""
    from opsbook.store.monitoring import add_samples

    spec = loaded.spec
    rows = []
    for name, slo in spec.slos.items():
        if isinstance(slo.sli, str) and spec.metrics[slo.sli].from_ is None:
            reading = readings.get(slo.sli)
            if reading is not None and reading.value is not None:
                rows.append((sample_series(name), now.timestamp(), float(reading.value)))
    if rows:
        with store.begin() as conn:
            add_samples(conn, spec.project, rows)


def slo_status(
    ctx: SourceContext,
    name: str,
    slo: Slo,
    now: datetime,
    *,
    store: Store | None = None,
    project: str = "",
    steps_cache: StepsCache | None = None,
) -> SloStatus:
    """Budget and burn rates of one SLO at ``now``."""
    start = earliest_needed(slo, now)
    steps = sli_steps(ctx, name, slo, now, start, store, project, steps_cache)
    return status_from_steps(name, slo, steps, now)


def earliest_needed(slo: Slo, now: datetime) -> datetime:
    """The oldest instant an SLO's budget or burn windows look at."""
    longest = max([w.long for w in burn_windows(slo)], default=0.0)
    return min(window_start(slo, now), now - timedelta(seconds=longest))


def status_from_steps(name: str, slo: Slo, steps: Steps, now: datetime) -> SloStatus:
    """Budget and burn rates at ``now`` from per-step counts."""
    windows = burn_windows(slo)
    begin = window_start(slo, now)
    at = now.timestamp()
    total, bad = steps.between(begin.timestamp(), at)
    budget = 1 - slo.objective / 100
    burns = []
    for w in windows:
        if slo.calendar is not None:
            # Business-hours windows are business time: the last hour is the last open hour.
            lt, lb = steps.last(round(w.long / slo.step), at)
            st, sb = steps.last(round(w.short / slo.step), at)
        else:
            lt, lb = steps.between(at - w.long, at)
            st, sb = steps.between(at - w.short, at)
        burns.append(
            Burn(
                w.long,
                w.short,
                w.factor,
                w.severity,
                (lb / lt) / budget if lt else None,
                (sb / st) / budget if st else None,
                lt,
            )
        )
    return SloStatus(
        name, slo.objective, slo.window, total, bad, burns, slo.min_events, slo.calendar
    )


def burn_alert_names(spec: object) -> list[str]:
    """Names of the burn-rate alerts every SLO adds (``NAME:page``, ``NAME:ticket``)."""
    slos = getattr(spec, "slos", {}) or {}
    return [f"{name}:{kind}" for name in slos for kind in ("page", "ticket")]


def burn_rules(spec: Spec) -> dict[str, Alert]:
    """The SLOs' burn-rate alerts as alert rules (their truth comes from :func:`slo_holds`)."""
    rules = {}
    for name, slo in spec.slos.items():
        for kind in ("page", "ticket"):
            rules[f"{name}:{kind}"] = Alert.model_construct(
                when=None,
                anomaly=None,
                for_=slo.for_,
                keep_firing_for=0.0,
                severity=slo.severity.get(kind, "critical" if kind == "page" else "warning"),
                summary=f"SLO {name} burns its error budget too fast ({kind})",
                description=None,
                runbook=None,
                labels={"slo": name},
                on_nodata="keep",
            )
    return rules


def slo_holds(
    store: Store | None,
    loaded: LoadedSpec,
    readings: Mapping[str, Reading],
    now: datetime,
    environment: str | None = None,
    steps_cache: StepsCache | None = None,
) -> dict[str, tuple[bool | None, float | None]]:
    """Truth (and the long-window burn rate) of every SLO burn-rate alert at ``now``
    (``steps_cache``: see :func:`_read_steps`)."""
    from opsbook.monitor.metrics import source_context

    spec = loaded.spec
    if not spec.slos:
        return {}
    if store is not None:
        record_samples(store, loaded, readings, now)
    ctx = source_context(loaded, environment)
    out: dict[str, tuple[bool | None, float | None]] = {}
    for name, slo in spec.slos.items():
        status = slo_status(
            ctx, name, slo, now, store=store, project=spec.project, steps_cache=steps_cache
        )
        for kind in ("page", "ticket"):
            out[f"{name}:{kind}"] = (status.holds(kind), status.top_rate(kind))
    return out


def burn_alert_holds(
    loaded: LoadedSpec,
    name: str,
    now: datetime,
    *,
    store: Store | None = None,
    environment: str | None = None,
) -> bool | None:
    """Whether an SLO's burn-rate alert (``NAME:page`` or ``NAME:ticket``) holds at ``now``."""
    from opsbook.monitor.metrics import source_context

    slo_name, _, kind = name.rpartition(":")
    slo = loaded.spec.slos[slo_name]
    ctx = source_context(loaded, environment)
    status = slo_status(ctx, slo_name, slo, now, store=store, project=loaded.spec.project)
    return status.holds(kind)


def slo_statuses(
    loaded: LoadedSpec, now: datetime, *, store: Store | None = None, environment: str | None = None
) -> list[SloStatus]:
    """Every SLO's budget and burn rates at ``now`` (what ``opsbook slo`` shows)."""
    from opsbook.monitor.metrics import source_context

    ctx = source_context(loaded, environment)
    return [
        slo_status(ctx, name, slo, now, store=store, project=loaded.spec.project)
        for name, slo in loaded.spec.slos.items()
    ]
