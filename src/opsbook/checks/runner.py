"""Running named checks: each through its type, all of a batch at once, on one event loop.

The Python API (used by the ``check`` step kind, and by anything that samples checks)::

    from opsbook.checks.runner import check_environment, run_checks

    results = check_environment(loaded, ["health", "orders"], "production")
    for r in results:          # CheckResult: a Report with type, value, summary, elapsed
        print(r.check, r.ok, r.summary, r.value, [f.message for f in r.findings])

A check that raises, or overruns its timeout, becomes a failed result with a finding; a batch
never raises for a failed check.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from opsbook.checks.base import CheckContext, CheckResult, SharedResources
from opsbook.checks.registry import BUILTIN_CHECKS, get_check_type
from opsbook.errors import OpsbookError, UsageError

if TYPE_CHECKING:
    from opsbook.spec.loader import LoadedSpec
    from opsbook.spec.models import Check, Spec


def named_checks(spec: Spec, names: Sequence[str]) -> list[tuple[str, Check]]:
    """The checks called ``names``: the spec's, or a built-in; UsageError for an unknown name."""
    from opsbook.spec.models import Check

    found = []
    for name in names:
        if name in spec.checks:
            found.append((name, spec.checks[name]))
        elif name in BUILTIN_CHECKS:
            found.append((name, Check.model_validate({name: True})))
        else:
            known = ", ".join([*spec.checks, *BUILTIN_CHECKS])
            raise UsageError(f"unknown check '{name}'", hint=f"known checks: {known}")
    return found


def run_checks(
    checks: Sequence[tuple[str, Check]],
    *,
    root: Path,
    env: Mapping[str, str],
    render: Callable[[str], str],
    environment: str = "",
    loaded: LoadedSpec | None = None,
    cap: float | None = None,
) -> list[CheckResult]:
    """Run every check at once; results in the order given. ``cap`` limits each one's timeout."""

    def context(name: str, check: Check, shared: SharedResources) -> CheckContext:
        timeout = float(check.timeout) if cap is None else min(float(check.timeout), cap)
        return CheckContext(name, root, env, render, timeout, environment, loaded, shared)

    async def batch() -> list[CheckResult]:
        shared = SharedResources(len(checks))
        try:
            return list(await asyncio.gather(*(_one(context(n, c, shared), c) for n, c in checks)))
        finally:
            await shared.aclose()

    return asyncio.run(batch())


def check_environment(
    loaded: LoadedSpec,
    names: Sequence[str],
    environment: str,
    process_env: Mapping[str, str] | None = None,
) -> list[CheckResult]:
    """Run the named checks against an environment, as a run there would."""
    import os

    from opsbook import environ
    from opsbook.plan import expression_context
    from opsbook.spec.expressions import render

    checks = named_checks(loaded.spec, names)
    effective = environ.resolve(loaded, environment, process_env)
    context = expression_context(loaded, effective, params={})
    return run_checks(
        checks,
        root=loaded.root,
        env={**(os.environ if process_env is None else process_env), **effective.values},
        render=lambda text: render(text, context),
        environment=environment,
        loaded=loaded,
    )


async def _one(ctx: CheckContext, check: Check) -> CheckResult:
    ctype = get_check_type(check.type)
    start = time.perf_counter()
    try:
        config = ctype.render(check.config, ctx.render)
        # The type enforces its own timeout; this bounds a type that does not.
        result = await asyncio.wait_for(ctype.run(ctx, config), ctx.timeout + 1.0)
    except OpsbookError as err:
        result = _failed(ctx, "error", str(err))
    except TimeoutError:
        result = _failed(ctx, "timeout", f"no result within {ctx.timeout:g}s")
    except Exception as err:  # a plugin's bug must not take the batch down
        result = _failed(
            ctx, "crashed", f"the {check.type} check crashed: {type(err).__name__}: {err}"
        )
    result.check, result.type = ctx.name, check.type
    result.elapsed = time.perf_counter() - start
    return result


def _failed(ctx: CheckContext, code: str, message: str) -> CheckResult:
    result = CheckResult(ctx.name, summary=code)
    result.fail(code, message)
    return result
