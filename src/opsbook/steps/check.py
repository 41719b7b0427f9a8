"""``check``: named checks (``checks:`` in opsbook.yaml) or built-ins such as ``env``."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from opsbook.steps.base import StepContext, StepKind, StepResult

if TYPE_CHECKING:
    from opsbook.checks.http import HttpProbe
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
        names = check_names(config)
        problems: list[str] = []
        outputs: dict[str, str] = {}
        if "env" in names:
            problems.extend(_env_check(ctx))
        probes = [_probe(ctx, name) for name in names if name not in BUILTIN_CHECKS]
        if probes:
            from opsbook.checks.http import run_http_checks

            for outcome in run_http_checks(probes, timeout=ctx.timeout):
                status = "no response" if outcome.status is None else f"HTTP {outcome.status}"
                verdict = "ok" if outcome.ok else "FAILED"
                ctx.log(f"{outcome.name}: {verdict} ({status}, {outcome.elapsed * 1000:.0f} ms)")
                for problem in outcome.problems:
                    ctx.log(f"  {outcome.name}: {problem}")
                    problems.append(f"{outcome.name}: {problem}")
                outputs[outcome.name] = "ok" if outcome.ok else "failed"
        if problems:
            first = problems[0] + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
            return StepResult(ok=False, outputs=outputs, message=first)
        return StepResult(ok=True, outputs=outputs, message=f"{len(names)} check(s) passed")


def _probe(ctx: StepContext, name: str) -> HttpProbe:
    from opsbook.checks.http import HttpProbe

    check = ctx.spec.checks[name]
    expect = check.expect
    # Expected values may read the run (e.g. the version this run deployed).
    rendered = expect.model_copy(
        update={
            "json_": _render_all(ctx, expect.json_),
            "jmespath": _render_all(ctx, expect.jmespath),
            "contains": ctx.render(expect.contains) if expect.contains is not None else None,
        }
    )
    check = check.model_copy(update={"expect": rendered})
    return HttpProbe(
        name=name,
        check=check,
        url=ctx.render(check.http),
        headers={k: ctx.render(v) for k, v in check.headers.items()},
        body=ctx.render(check.body) if check.body is not None else None,
    )


def _render_all(ctx: StepContext, value: Any) -> Any:
    if isinstance(value, str):
        return ctx.render(value)
    if isinstance(value, dict):
        return {k: _render_all(ctx, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_render_all(ctx, v) for v in value]
    return value


def _env_check(ctx: StepContext) -> list[str]:
    """The built-in ``env`` check: the environment contract (never prints values)."""
    try:
        from opsbook.checks.contract import check_env
    except ImportError:
        return ["env: the env contract check is not installed in this opsbook"]
    if ctx.loaded is None:
        return ["env: the engine did not pass the spec to this step"]
    report = check_env(ctx.loaded, ctx.environment, process_env=None)
    problems: list[str] = []
    for finding in report.findings:
        where = f" {finding.variable}" if finding.variable else ""
        ctx.log(f"env {finding.severity}{where}: {finding.message} [{finding.code}]")
        if finding.severity == "error":
            problems.append(f"env{where}: {finding.message}")
    ctx.log("env: ok" if report.ok else f"env: {len(problems)} error(s)")
    if not report.ok and not problems:
        problems.append("env: the contract check failed")
    return problems
