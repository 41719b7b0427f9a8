"""The ``env`` check type: the environment contract (``env:`` in opsbook.yaml) for the run's
environment. Also the built-in check named ``env`` that ``check: env`` steps use."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from opsbook.checks.base import CheckConfig, CheckContext, CheckResult, CheckType
from opsbook.wording import counted


class EnvConfig(CheckConfig):
    env: Literal[True] = True
    """``env: true``: check the environment's variables against the contract."""


class EnvCheck(CheckType):
    name = "env"
    config_type = EnvConfig

    async def run(self, ctx: CheckContext, config: Any) -> CheckResult:
        from opsbook.checks.contract import check_env

        result = CheckResult(ctx.name)
        if ctx.loaded is None or not ctx.environment:
            result.fail("no_environment", "the env check needs the spec and an environment")
            return result
        report = await asyncio.to_thread(check_env, ctx.loaded, ctx.environment, None)
        result.findings = list(report.findings)
        errors = sum(1 for f in report.findings if f.severity == "error")
        result.summary = "contract met" if report.ok else counted(errors, "error")
        return result
