"""The configuration of ``rollout`` steps and their ``analysis``.

- id: canary
  rollout:
    set: ./scripts/weight.sh {percent}        # moves traffic; {previous_percent} too
    steps: [10, 50, 100]
    pause: 5m                                  # a durable wait after each step but the last
    analysis:
      initial_delay: 30s
      interval: 1m
      count: 3
      failure_limit: 0
      metrics:
        - {name: canary-5xx, web: {url: "http://127.0.0.1:8090/_proxy/stats",
           jmespath: canary.error_rate}, success: "result < 0.05", failure: "result >= 0.05"}
        - {alert: high_error_rate}              # firing = failure
"""

from __future__ import annotations

import ast
import itertools
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from opsbook.spec.durations import Duration

PROVIDERS = ("web", "command", "metric", "alert")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def check_condition(text: str | None) -> str | None:
    """A condition over ``result`` (``result < 0.05``), checked for syntax; ValueError if bad."""
    if text is None:
        return None
    try:
        ast.parse(text.strip(), mode="eval")
    except SyntaxError as err:
        raise ValueError(f"cannot parse condition {text!r}: {err.msg}") from None
    if len(text) > 500:
        raise ValueError("a condition is at most 500 characters")
    return text


def check_steps(value: list[int] | None) -> list[int] | None:
    """Rollout percentages: each 1 to 100, growing; ValueError otherwise."""
    if value is not None:
        if any(not 1 <= p <= 100 for p in value):
            raise ValueError("each step is a percentage from 1 to 100")
        if any(b <= a for a, b in itertools.pairwise(value)):
            raise ValueError(f"steps must grow: {value}")
    return value


def start_stage(steps: list[int], percent: int) -> int:
    """The index of the step a rollout recorded at ``percent`` continues from (0: not started)."""
    if not percent:
        return 0
    return next((i for i, p in enumerate(steps) if p >= percent), len(steps) - 1)


class Web(_Model):
    """Read a number from an HTTP JSON endpoint."""

    url: str
    jmespath: str | None = None
    """Where the number is in the JSON answer (default: the whole answer)."""
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: Duration = 5.0

    @field_validator("jmespath")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            import jmespath
            from jmespath.exceptions import JMESPathError

            try:
                jmespath.compile(value)
            except JMESPathError as err:
                raise ValueError(f"bad JMESPath {value!r}: {err}") from None
        return value


class Measure(_Model):
    """One measurement of an analysis: where the number comes from and what it must be."""

    name: str | None = None
    web: Web | None = None
    command: str | None = None
    """A shell command whose last line of output is the number (or JSON ``null``: no data)."""
    metric: str | None = None
    """A metric of ``metrics:`` (its largest value across label sets)."""
    alert: str | None = None
    """An alert of ``alerts:`` or an SLO's burn-rate alert (``SLO:page``): 1 firing, 0 not."""
    success: str | None = None
    failure: str | None = None

    _conditions = field_validator("success", "failure")(check_condition)

    @model_validator(mode="after")
    def _one_provider(self) -> Measure:
        given = [p for p in PROVIDERS if getattr(self, p) is not None]
        if len(given) != 1:
            raise ValueError("a measurement needs exactly one of web, command, metric, alert")
        if self.alert is None and self.success is None and self.failure is None:
            raise ValueError("give success: and/or failure: conditions over `result`")
        return self

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        provider = next(p for p in PROVIDERS if getattr(self, p) is not None)
        value: Any = getattr(self, provider)
        return f"{provider} {value.url if isinstance(value, Web) else value}"


class Analysis(_Model):
    """Measurements taken after each traffic step (as Argo Rollouts' AnalysisTemplate)."""

    metrics: list[Measure] = Field(min_length=1)
    count: int = Field(default=1, ge=1, le=1000)
    interval: Duration = 10.0
    failure_limit: int = Field(default=0, ge=0)
    """Failed measurements tolerated per metric; one more fails the analysis."""
    initial_delay: Duration = 0.0


class RolloutConfig(_Model):
    """The ``rollout:`` value of a step."""

    set: str
    """The command that moves traffic; ``{percent}`` and ``{previous_percent}`` are replaced."""
    steps: list[int] = Field(min_length=1, max_length=100)
    pause: Duration = 0.0
    analysis: Analysis | None = None

    _increasing = field_validator("steps")(lambda value: check_steps(value))
