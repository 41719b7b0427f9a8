"""``run``: a shell command."""

from __future__ import annotations

from typing import Any

from opsbook.steps.base import StepContext, StepKind, StepResult


class RunStep(StepKind):
    name = "run"
    config_type = str
    changes_things = True
    safe_to_rerun = False

    def execute(self, ctx: StepContext, config: Any) -> StepResult:
        raise NotImplementedError("the engine issue implements shell execution")
