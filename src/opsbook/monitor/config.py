"""The ``metrics:``, ``alerts:`` and ``slos:`` sections of opsbook.yaml as pydantic models."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from opsbook.spec.durations import Duration
from opsbook.spec.strict import Model

CONDITION = re.compile(
    r"^\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*(>=|<=|==|!=|>|<)\s*(-?\d+(?:\.\d+)?)\s*(%?)\s*$"
)


class Anomaly(Model):
    """A baseline band around a metric: EWMA or the same hour last week."""

    baseline: Literal["ewma", "last-week"] = "ewma"
    sensitivity: float = Field(default=3.0, gt=0, le=100)
    """Width of the band in standard deviations (ewma) or as a ratio of the baseline (last-week:
    the value may be up to ``sensitivity`` times the baseline, or as low as its inverse)."""
    alpha: float = Field(default=0.3, gt=0, le=1)
    """EWMA smoothing: the weight of the newest value."""
    for_: Duration = Field(default=0.0, alias="for")
    min_samples: int = Field(default=5, ge=1, le=10000)


class Metric(Model):
    """One number (or one per label set) at ``now``.

    ``from`` names a source; what the metric asks depends on the source's kind: ``value`` (a SQL
    aggregate over log fields) with ``where`` for logs, ``query`` for sql, ``promql`` for
    prometheus. ``check`` and ``command`` need no source.
    """

    description: str | None = None
    from_: str | None = Field(default=None, alias="from")
    over: Duration | None = None
    value: str | None = None
    where: str | None = None
    by: list[str] = Field(default_factory=list)
    query: str | None = None
    promql: str | None = None
    check: str | None = None
    command: str | None = None
    unit: str | None = None
    anomaly: Anomaly | None = None

    @field_validator("over")
    @classmethod
    def _positive(cls, value: float | None) -> float | None:
        if value is not None and value <= 0:
            raise ValueError("over must be longer than 0s; write e.g. 5m")
        return value

    @field_validator("by", mode="before")
    @classmethod
    def _one_label(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_way(self) -> Metric:
        ways = [
            k
            for k in ("from", "check", "command")
            if (self.from_ if k == "from" else getattr(self, k)) is not None
        ]
        if len(ways) != 1:
            raise ValueError(
                "a metric reads from exactly one of: from (a source), check, command; "
                f"got {', '.join(ways) or 'none'}"
            )
        return self


class Condition(Model):
    """A parsed ``when:``: ``METRIC OP NUMBER`` (``%`` divides by 100)."""

    metric: str
    op: Literal[">", ">=", "<", "<=", "==", "!="]
    threshold: float

    def holds(self, value: float) -> bool:
        return {
            ">": value > self.threshold,
            ">=": value >= self.threshold,
            "<": value < self.threshold,
            "<=": value <= self.threshold,
            "==": value == self.threshold,
            "!=": value != self.threshold,
        }[self.op]


def parse_condition(text: str) -> Condition:
    """``error_rate > 5%`` → Condition(error_rate, >, 0.05).

    >>> parse_condition("p95_ms > 3000").threshold
    3000.0
    """
    match = CONDITION.match(text)
    if not match:
        raise ValueError(
            f"when {text!r} is not 'METRIC OP NUMBER'; write e.g. 'error_rate > 5%' or "
            "'p95_ms >= 3000'"
        )
    number = float(match.group(3)) / (100 if match.group(4) else 1)
    return Condition(metric=match.group(1), op=match.group(2), threshold=number)


class Alert(Model):
    """An alerting rule with Prometheus' semantics (pending for ``for``, ``keep_firing_for``)."""

    when: str | None = None
    anomaly: str | None = None
    """Fire when this metric leaves its anomaly band (instead of ``when``)."""
    for_: Duration = Field(default=0.0, alias="for")
    keep_firing_for: Duration = 0.0
    severity: str = "warning"
    summary: str | None = None
    description: str | None = None
    runbook: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    on_nodata: Literal["keep", "alert", "ok"] = "keep"

    @field_validator("when")
    @classmethod
    def _parse(cls, value: str | None) -> str | None:
        if value is not None:
            parse_condition(value)
        return value

    @model_validator(mode="after")
    def _one_condition(self) -> Alert:
        if (self.when is None) == (self.anomaly is None):
            raise ValueError("an alert needs exactly one of when: (a threshold) or anomaly: METRIC")
        return self

    @property
    def condition(self) -> Condition | None:
        return parse_condition(self.when) if self.when else None

    @property
    def metric(self) -> str:
        """The metric the alert watches."""
        if self.when:
            return parse_condition(self.when).metric
        return str(self.anomaly)


class Ratio(Model):
    """An SLI as good and total counts (each a metric name)."""

    good: str | None = None
    bad: str | None = None
    total: str

    @model_validator(mode="after")
    def _one(self) -> Ratio:
        if (self.good is None) == (self.bad is None):
            raise ValueError("an SLI ratio needs total and exactly one of good or bad")
        return self


class BurnWindow(Model):
    """One multi-window burn-rate alert: fires when both windows burn faster than ``factor``."""

    long: Duration
    short: Duration
    factor: float = Field(gt=0)
    severity: Literal["page", "ticket"] = "page"


class Slo(Model):
    """A service level objective over a rolling (``30d``) or calendar (``month``) window.

    ``sli`` is a metric that is 1 when good and 0 when bad (each evaluation is one event, e.g. a
    check), or ``{good|bad: METRIC, total: METRIC}`` counts per evaluation step.
    """

    description: str | None = None
    sli: str | Ratio
    objective: float
    window: str = "30d"
    step: Duration = 300.0
    """How long one SLI sample stands for (the evaluation step of budgets)."""
    calendar: str | None = None
    min_events: int = Field(default=0, ge=0)
    """Burn-rate alerts stay quiet when the long window has fewer events than this."""
    for_: Duration = Field(default=120.0, alias="for")
    """How long a burn-rate alert is pending before it fires."""
    severity: dict[str, str] = Field(
        default_factory=lambda: {"page": "critical", "ticket": "warning"}
    )
    """The severity label of the page and ticket alerts."""
    alerts: list[BurnWindow] | None = None
    """Burn-rate alerts; default: Sloth's table scaled to the window."""

    @field_validator("objective", mode="before")
    @classmethod
    def _percent(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().endswith("%"):
            try:
                return float(value.strip()[:-1])
            except ValueError:
                raise ValueError(f"objective {value!r} is not a percentage like 99.5%") from None
        return value

    @field_validator("objective")
    @classmethod
    def _range(cls, value: float) -> float:
        if not 0 < value < 100:
            raise ValueError(f"objective {value} must be above 0% and below 100%, e.g. 99.5%")
        return value

    @field_validator("window")
    @classmethod
    def _window(cls, value: str) -> str:
        from opsbook.spec.durations import parse_duration

        if value in ("month", "week", "day"):
            return value
        if parse_duration(value) < 3600:
            raise ValueError(f"window {value!r} is shorter than 1h; use e.g. 30d, 7d or month")
        return value
