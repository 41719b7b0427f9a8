"""``monitor``: watch named alerts (and SLO burn-rate alerts) for a while after a change; the
step fails, so the run rolls back, when one of them fires::

    - id: watch
      monitor: {alerts: [high_error_rate, slow_responses], for: 10m, every: 30s}

An alert fires once its condition has held for the alert's own ``for`` within the step; an
alert with no data neither fires nor passes, it is reported.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pydantic import Field

from opsbook.spec.durations import Duration, format_duration
from opsbook.spec.models import Runbook, Spec, Step
from opsbook.spec.strict import Model
from opsbook.steps.base import StepContext, StepKind, StepResult


class MonitorConfig(Model):
    alerts: list[str] = Field(min_length=1)
    for_: Duration = Field(default=600.0, alias="for")
    every: Duration = 30.0


class MonitorStep(StepKind):
    name = "monitor"
    config_type = MonitorConfig
    changes_things = False
    safe_to_rerun = True

    def templates(self, config: Any) -> list[str]:
        return []

    def validate(self, config: Any, spec: Spec, runbook: Runbook, step: Step) -> list[str]:
        from opsbook.monitor.slo import burn_alert_names

        known = [*spec.alerts, *burn_alert_names(spec)]
        return [
            f"unknown alert '{name}'; define it under alerts: (known: {', '.join(known) or 'none'})"
            for name in config.alerts
            if name not in known
        ]

    def describe(self, config: Any, render: Callable[[str], str]) -> str:
        return f"monitor {', '.join(config.alerts)} for {format_duration(config.for_)}"

    def execute(self, ctx: StepContext, config: Any) -> StepResult:
        from opsbook.clock import utcnow
        from opsbook.monitor.api import evaluate_alert

        if ctx.loaded is None:
            return StepResult(ok=False, message="the monitor step needs the run's opsbook.yaml")
        deadline = time.monotonic() + config.for_
        held_since: dict[str, float] = {}
        while True:
            for name in config.alerts:
                check = evaluate_alert(ctx.loaded, name, utcnow(), environment=ctx.environment)
                value = check.reading.value
                shown = (
                    "no data"
                    if check.holds is None
                    else f"value {value:.4g}"
                    if value is not None
                    else ""
                )
                if check.holds:
                    since = held_since.setdefault(name, time.monotonic())
                    wait = ctx.spec.alerts[name].for_ if name in ctx.spec.alerts else 0.0
                    if time.monotonic() - since >= wait:
                        ctx.log(f"{name}: FIRING ({shown})")
                        return StepResult(
                            ok=False,
                            message=f"alert {name} fired ({shown})",
                            outputs={"fired": name},
                        )
                    ctx.log(f"{name}: pending ({shown})")
                else:
                    held_since.pop(name, None)
                    ctx.log(f"{name}: {'no data' if check.holds is None else 'ok'} ({shown})")
            left = deadline - time.monotonic()
            if left <= 0:
                return StepResult(
                    ok=True,
                    message=f"no alert fired in {format_duration(config.for_)}",
                    outputs={"fired": ""},
                )
            if ctx.cancelled.wait(min(config.every, left)):
                return StepResult(ok=False, message="cancelled")
