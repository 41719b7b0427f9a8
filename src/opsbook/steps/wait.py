"""``wait``: a durable timer; the deadline survives restarts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opsbook.spec.durations import Duration, format_duration
from opsbook.steps.base import StepContext, StepKind, StepResult


class WaitStep(StepKind):
    name = "wait"
    config_type = Duration
    changes_things = False
    safe_to_rerun = True

    def templates(self, config: Any) -> list[str]:
        return []

    def describe(self, config: Any, render: Callable[[str], str]) -> str:
        return f"wait {format_duration(float(config))}"

    def execute(self, ctx: StepContext, config: Any) -> StepResult:
        raise NotImplementedError("the engine issue implements durable waits")
