"""The configuration of ``flag`` steps: set a flag, or roll it out in steps behind a guard.

- id: checkout-off
  flag: {key: new-checkout, on: false, reason: "INC-12"}
- id: checkout-rollout
  flag:
    key: new-checkout
    steps: [10, 25, 50, 100]
    pause: 2h
    guard: {slo: checkout-availability}     # pauses when its fast burn-rate alert fires
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from opsbook.rollout.models import check_steps
from opsbook.spec.durations import Duration


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Guard(_Model):
    """What stops a flag rollout by itself: an SLO's fast burn-rate alert, or any alert."""

    slo: str | None = None
    """An SLO of ``slos:``: its ``NAME:page`` (fast burn-rate) alert is watched."""
    alert: str | None = None
    every: Duration = 60.0
    """How often the guard is checked during a pause."""

    @model_validator(mode="after")
    def _one(self) -> Guard:
        if (self.slo is None) == (self.alert is None):
            raise ValueError("a guard names exactly one of slo: or alert:")
        return self

    @property
    def alert_name(self) -> str:
        return f"{self.slo}:page" if self.slo is not None else str(self.alert)


class FlagStepConfig(_Model):
    """The ``flag:`` value of a step."""

    key: str
    on: bool | None = None
    percent: int | None = Field(default=None, ge=0, le=100)
    steps: list[int] | None = Field(default=None, min_length=1, max_length=100)
    pause: Duration = 0.0
    guard: Guard | None = None
    reason: str | None = Field(default=None, max_length=500)

    _increasing = field_validator("steps")(lambda value: check_steps(value))

    @model_validator(mode="after")
    def _what(self) -> FlagStepConfig:
        if self.steps is None:
            if self.on is None and self.percent is None:
                raise ValueError("say what to do: on: true|false, percent: N, or steps: [...]")
            if self.guard is not None or self.pause:
                raise ValueError("guard: and pause: belong to a rollout (steps: [...])")
        elif self.on is not None or self.percent is not None:
            raise ValueError("a rollout (steps:) turns the flag on itself; drop on:/percent:")
        return self
