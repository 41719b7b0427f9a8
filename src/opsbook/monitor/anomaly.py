"""Anomaly bands: is a metric's value at ``now`` outside the band its own history predicts?

Two baselines (``anomaly.baseline`` of a metric):

- ``ewma``: the metric is read at the ends of the steps before ``now`` (the metric's ``over``,
  default 5m, on multiples of the step since the UNIX epoch, ``now`` itself excluded); an
  exponentially weighted mean and standard deviation (weight ``alpha`` on the newest) of those
  values give the band ``mean ± sensitivity × deviation``. As many steps are read as carry 99%
  of the weight (13 for ``alpha: 0.3``), and at least ``min_samples``.
- ``last-week``: the value at the same instant 7 days earlier; the band is ``baseline ÷
  sensitivity`` to ``baseline × sensitivity`` (a zero or missing baseline gives no data).

The baseline is recomputed from the source at each evaluation, so it is a pure function of the
data and ``now``: a restart, ``monitor eval``, ``monitor replay`` and ``watch`` all give the same
band. Fewer than ``min_samples`` history values is no data (the alert's ``on_nodata``). An alert
``anomaly: METRIC`` is true while the value is outside the band, pending for its ``for`` (or the
anomaly's ``for`` when the alert sets none), then firing, as any alert.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from opsbook.monitor.metrics import Reading, read_series

if TYPE_CHECKING:
    from opsbook.monitor.config import Anomaly, Metric
    from opsbook.sources.base import SourceContext
    from opsbook.spec.models import Spec

WEEK = 7 * 86400.0
DEFAULT_STEP = 300.0
MAX_HISTORY = 2016
"""At most a week of 5-minute steps."""
Truth = tuple[dict[str, str], bool | None, float | None]
"""(labels of one series, outside its band or None for no data, the value at now)."""


def _key(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


@dataclass
class Band:
    """One series' band at ``now``."""

    labels: dict[str, str]
    value: float | None
    low: float | None
    high: float | None

    @property
    def outside(self) -> bool | None:
        if self.value is None or self.low is None or self.high is None:
            return None
        return not self.low <= self.value <= self.high

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "outside": self.outside}


def step_of(metric: Metric) -> float:
    return metric.over or DEFAULT_STEP


def history_length(anomaly: Anomaly) -> int:
    """Steps an EWMA reads: enough to hold 99% of its weight, at least ``min_samples``.

    >>> from opsbook.monitor.config import Anomaly
    >>> history_length(Anomaly(alpha=0.3)), history_length(Anomaly(alpha=1.0, min_samples=4))
    (13, 4)
    """
    keep = 1 - anomaly.alpha
    needed = 1 if keep <= 0 else math.ceil(math.log(0.01) / math.log(keep))
    return min(max(needed, anomaly.min_samples), MAX_HISTORY)


def history_times(metric: Metric, now: datetime) -> list[datetime]:
    """The instants whose values make the baseline at ``now``, oldest first."""
    anomaly = metric.anomaly
    assert anomaly is not None
    if anomaly.baseline == "last-week":
        return [now - timedelta(seconds=WEEK)]
    step = step_of(metric)
    last = math.floor(now.timestamp() / step) * step
    if last >= now.timestamp():
        last -= step
    count = history_length(anomaly)
    end = datetime.fromtimestamp(last, tz=now.tzinfo)
    return [end - timedelta(seconds=step * i) for i in range(count - 1, -1, -1)]


def ewma(values: Iterable[float], alpha: float) -> tuple[float, float]:
    """Exponentially weighted mean and standard deviation (West's incremental form).

    >>> ewma([10.0, 10.0, 10.0], 0.3)
    (10.0, 0.0)
    """
    mean: float | None = None
    variance = 0.0
    for value in values:
        if mean is None:
            mean = value
            continue
        diff = value - mean
        increment = alpha * diff
        mean += increment
        variance = (1 - alpha) * (variance + diff * increment)
    return (mean or 0.0), math.sqrt(variance)


def band(
    anomaly: Anomaly, history: list[float], value: float | None, labels: dict[str, str]
) -> Band:
    """The band of one series from its history values (oldest first)."""
    if anomaly.baseline == "last-week":
        base = history[-1] if history else None
        if not base:
            return Band(labels, value, None, None)
        low, high = sorted((base / anomaly.sensitivity, base * anomaly.sensitivity))
        return Band(labels, value, low, high)
    if len(history) < anomaly.min_samples:
        return Band(labels, value, None, None)
    mean, deviation = ewma(history, anomaly.alpha)
    width = anomaly.sensitivity * deviation
    return Band(labels, value, mean - width, mean + width)


def bands_from(metric: Metric, history: list[Reading], current: Reading) -> list[Band]:
    """Each series of ``current`` with its band from the readings at the history instants."""
    anomaly = metric.anomaly
    assert anomaly is not None
    past: dict[tuple[tuple[str, str], ...], list[float]] = {}
    for reading in history:
        for sample in reading.samples:
            if sample.value is not None:
                past.setdefault(_key(sample.labels), []).append(sample.value)
    return [
        band(anomaly, past.get(_key(s.labels), []), s.value, dict(s.labels))
        for s in current.samples
    ]


class Baselines:
    """The history of every anomaly metric for a set of instants, read once (one query per log
    source when the instants tile the time line), then the bands at any of those instants."""

    def __init__(self, ctx: SourceContext, spec: Spec, instants: list[datetime]) -> None:
        self.spec = spec
        self.names = [n for n, m in spec.metrics.items() if m.anomaly is not None]
        self.readings: dict[str, dict[float, Reading]] = {}
        for name in self.names:
            metric = spec.metrics[name]
            times = sorted({t for now in instants for t in history_times(metric, now)})
            series = read_series(ctx, [name], times)[name]
            self.readings[name] = {t.timestamp(): r for t, r in zip(times, series, strict=True)}

    def bands(self, readings: Mapping[str, Reading], now: datetime) -> dict[str, list[Band]]:
        """Per anomaly alert: each series' band at ``now`` (its value and edges)."""
        out: dict[str, list[Band]] = {}
        for name, alert in self.spec.alerts.items():
            if alert.anomaly is None or alert.anomaly not in self.readings:
                continue
            metric = self.spec.metrics[alert.anomaly]
            stored = self.readings[alert.anomaly]
            history = [stored[t.timestamp()] for t in history_times(metric, now)]
            current = readings.get(alert.anomaly) or Reading(alert.anomaly, [], "not read")
            out[name] = bands_from(metric, history, current)
        return out

    def truths(self, readings: Mapping[str, Reading], now: datetime) -> dict[str, list[Truth]]:
        """Per anomaly alert: each series' labels, whether it is outside its band, its value."""
        return truths_of(self.bands(readings, now))


def truths_of(bands: Mapping[str, list[Band]]) -> dict[str, list[Truth]]:
    """The alert truths the bands give (outside the band: true)."""
    return {name: [(b.labels, b.outside, b.value) for b in found] for name, found in bands.items()}
