"""``gate``: a human confirms a statement or each item of a checklist."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opsbook.steps.base import Decision, StepContext, StepKind, StepResult


def gate_items(config: str | list[str]) -> list[str]:
    return [config] if isinstance(config, str) else list(config)


class GateStep(StepKind):
    name = "gate"
    config_type = str | list[str]
    changes_things = False
    safe_to_rerun = True
    asks_humans = True

    def describe(self, config: Any, render: Callable[[str], str]) -> str:
        items = gate_items(config)
        if len(items) == 1:
            return "human confirms: " + render(items[0])
        return f"human confirms {len(items)} items: " + "; ".join(render(i) for i in items)

    def execute(self, ctx: StepContext, config: Any) -> StepResult:
        items = [ctx.render(item) for item in gate_items(config)]
        decision = ctx.decide(items) if ctx.decide else Decision(None)
        if decision.approved is None:
            return StepResult(ok=False, paused=True, message="waiting for approval")
        verb = "approved" if decision.approved else "rejected"
        note = f": {decision.note}" if decision.note else ""
        return StepResult(
            ok=decision.approved,
            message=f"{verb} by {decision.operator}{note}",
            data={"decision": verb, "operator": decision.operator, "note": decision.note},
        )
