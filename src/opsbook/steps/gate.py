"""``gate``: a human confirms a statement or each item of a checklist."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opsbook.steps.base import StepContext, StepKind, StepResult


def gate_items(config: str | list[str]) -> list[str]:
    return [config] if isinstance(config, str) else list(config)


class GateStep(StepKind):
    name = "gate"
    config_type = str | list[str]
    changes_things = False
    safe_to_rerun = True

    def describe(self, config: Any, render: Callable[[str], str]) -> str:
        items = gate_items(config)
        if len(items) == 1:
            return "human confirms: " + render(items[0])
        return f"human confirms {len(items)} items: " + "; ".join(render(i) for i in items)

    def execute(self, ctx: StepContext, config: Any) -> StepResult:
        raise NotImplementedError("the engine issue implements gates")
