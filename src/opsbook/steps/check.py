"""``check``: named checks (``checks:`` in opsbook.yaml) or built-ins such as ``env``, run at once
through their check types (:mod:`opsbook.checks.runner`)."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from opsbook.steps.base import StepContext, StepKind, StepResult
from opsbook.wording import counted

if TYPE_CHECKING:
    from opsbook.checks.base import CheckResult
    from opsbook.spec.models import Runbook, Spec, Step


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
        from opsbook.checks.registry import BUILTIN_CHECKS

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
        from opsbook.checks.runner import named_checks, run_checks

        names = check_names(config)
        results = run_checks(
            named_checks(ctx.spec, names),
            root=ctx.root,
            env=ctx.env,
            render=ctx.render,
            environment=ctx.environment,
            loaded=ctx.loaded,
            cap=ctx.timeout,
        )
        problems: list[str] = []
        for result in results:
            problems += _log(ctx, result)
        outputs = {r.check: "ok" if r.ok else "failed" for r in results}
        if problems:
            first = problems[0] + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
            return StepResult(ok=False, outputs=outputs, message=first)
        return StepResult(
            ok=True, outputs=outputs, message=f"{counted(len(names), 'check')} passed"
        )


def _log(ctx: StepContext, result: CheckResult) -> list[str]:
    """Log one result (a line, then one per finding); return its error messages."""
    verdict = "ok" if result.ok else "FAILED"
    ctx.log(f"{result.check}: {verdict} ({result.summary}, {result.elapsed * 1000:.0f} ms)")
    problems = []
    for finding in result.findings:
        subject = f"{finding.variable}: " if finding.variable else ""
        severity = "" if finding.severity == "error" else f"{finding.severity}: "
        ctx.log(f"  {result.check}: {severity}{subject}{finding.message}")
        if finding.severity == "error":
            problems.append(f"{result.check}: {subject}{finding.message}")
    return problems
