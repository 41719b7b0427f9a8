"""Pre-flight gates on monitoring, as check types (``opsbook.checks`` entry points):

- ``no-firing-alerts``: fails while a stored alert fires (all of them, or the ones named);
- ``slo-budget``: fails when an SLO has less error budget left than ``min`` ("don't release
  with less than 10% of the budget left")::

    checks:
      quiet:  {no-firing-alerts: [high_error_rate, payment_failures]}
      budget: {slo-budget: {slo: availability, min: 10%}}
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import Field, field_validator

from opsbook.checks.base import CheckConfig, CheckContext, CheckResult, CheckType


class NoFiringConfig(CheckConfig):
    no_firing_alerts: bool | list[str] = Field(alias="no-firing-alerts")
    """``true`` for every alert, or the names of the alerts that must not fire."""


class Budget(CheckConfig):
    slo: str
    min: float = 0.1
    """The least share of the error budget that must be left (``10%`` or ``0.1``)."""

    @field_validator("min", mode="before")
    @classmethod
    def _percent(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().endswith("%"):
            return float(value.strip()[:-1]) / 100
        return value


class SloBudgetConfig(CheckConfig):
    slo_budget: Budget = Field(alias="slo-budget")


def _store(ctx: CheckContext) -> Any:
    from opsbook.store import open_store

    return open_store(root=ctx.root)


class NoFiringAlerts(CheckType):
    name = "no-firing-alerts"
    config_type = NoFiringConfig

    def validate(self, config: Any, spec: Any) -> list[str]:
        names = config.no_firing_alerts
        if isinstance(names, list):
            from opsbook.monitor.slo import burn_alert_names

            known = [*spec.alerts, *burn_alert_names(spec)]
            return [
                f"unknown alert '{n}'; define it under alerts:" for n in names if n not in known
            ]
        return []

    async def run(self, ctx: CheckContext, config: Any) -> CheckResult:
        from opsbook.monitor.evaluate import load_statuses
        from opsbook.monitor.state import AlertState

        result = CheckResult(ctx.name)
        if ctx.loaded is None:
            result.fail("no_spec", "no-firing-alerts needs the project's opsbook.yaml")
            return result

        def firing() -> list[str]:
            store = _store(ctx)
            try:
                statuses = load_statuses(store, ctx.loaded.spec.project).values()  # type: ignore[union-attr]
            finally:
                store.close()
            wanted = config.no_firing_alerts
            return sorted(
                {
                    s.alert
                    for s in statuses
                    if s.state == AlertState.FIRING
                    and (wanted is True or (isinstance(wanted, list) and s.alert in wanted))
                }
            )

        names = await asyncio.to_thread(firing)
        result.value = float(len(names))
        result.summary = f"{len(names)} firing" if names else "nothing firing"
        for name in names:
            result.fail("alert_firing", f"alert {name} is firing; wait for it to resolve")
        return result


class SloBudget(CheckType):
    name = "slo-budget"
    config_type = SloBudgetConfig

    def validate(self, config: Any, spec: Any) -> list[str]:
        slo = config.slo_budget.slo
        return [] if slo in spec.slos else [f"unknown SLO '{slo}'; define it under slos:"]

    async def run(self, ctx: CheckContext, config: Any) -> CheckResult:
        from opsbook.clock import utcnow
        from opsbook.monitor.metrics import source_context
        from opsbook.monitor.slo import slo_status

        result = CheckResult(ctx.name)
        if ctx.loaded is None:
            result.fail("no_spec", "slo-budget needs the project's opsbook.yaml")
            return result
        budget = config.slo_budget
        loaded = ctx.loaded

        def status() -> Any:
            store = _store(ctx)
            try:
                spec = loaded.spec
                return slo_status(
                    source_context(loaded, ctx.environment or None),
                    budget.slo,
                    spec.slos[budget.slo],
                    utcnow(),
                    store=store,
                    project=spec.project,
                )
            finally:
                store.close()

        found = await asyncio.to_thread(status)
        left = found.remaining
        result.value = left
        if left is None:
            result.summary = "no events in the window"
            return result
        result.summary = f"{left * 100:.1f}% of the error budget left"
        if left < budget.min:
            result.fail(
                "budget_low",
                f"SLO {budget.slo} has {left * 100:.1f}% of its error budget left, below "
                f"{budget.min * 100:g}%; release when it recovers or lower min",
            )
        return result
