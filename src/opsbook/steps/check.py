"""``check``: named checks (``checks:`` in opsbook.yaml) or built-ins such as ``env``."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from opsbook.steps.base import StepContext, StepKind, StepResult

if TYPE_CHECKING:
    from opsbook.spec.models import Runbook, Spec, Step

BUILTIN_CHECKS = ("env",)


def check_names(config: str | list[str]) -> list[str]:
    return [config] if isinstance(config, str) else list(config)


class CheckStep(StepKind):
    name = "check"
    config_type = str | list[str]
    changes_things = False
    safe_to_rerun = True

    def templates(self, config: Any) -> list[str]:
        return []

    def validate(self, config: Any, spec: Spec, runbook: Runbook, step: Step) -> list[str]:
        problems = []
        known = [*spec.checks, *BUILTIN_CHECKS]
        for name in check_names(config):
            if name not in known:
                close = difflib.get_close_matches(name, known, n=1)
                fix = f"did you mean '{close[0]}'?" if close else "define it under checks:"
                problems.append(f"unknown check '{name}'; {fix}")
        return problems

    def describe(self, config: Any, render: Callable[[str], str]) -> str:
        return "check " + ", ".join(check_names(config))

    def execute(self, ctx: StepContext, config: Any) -> StepResult:
        raise NotImplementedError("the engine issue implements checks")
