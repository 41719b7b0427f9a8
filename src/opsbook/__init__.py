"""opsbook: release and operations runbooks as one checked-in file, run durably.

Public API for users and plugins; import from here only. Names load on first use, so
``import opsbook`` (and ``opsbook --version``) costs nothing.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: `import typing` alone would double `opsbook --version`
if TYPE_CHECKING:
    from typing import Any

    from opsbook.checks.base import CheckConfig, CheckContext, CheckResult, CheckType
    from opsbook.errors import OpsbookError, Problem, SpecError
    from opsbook.plan import Plan, make_plan
    from opsbook.spec.loader import LoadedSpec, load_spec
    from opsbook.steps.base import StepContext, StepKind, StepResult

__version__ = "0.1.0"

_WHERE = {
    "CheckConfig": "opsbook.checks.base",
    "CheckContext": "opsbook.checks.base",
    "CheckResult": "opsbook.checks.base",
    "CheckType": "opsbook.checks.base",
    "LoadedSpec": "opsbook.spec.loader",
    "OpsbookError": "opsbook.errors",
    "Plan": "opsbook.plan",
    "Problem": "opsbook.errors",
    "SpecError": "opsbook.errors",
    "StepContext": "opsbook.steps.base",
    "StepKind": "opsbook.steps.base",
    "StepResult": "opsbook.steps.base",
    "load_spec": "opsbook.spec.loader",
    "make_plan": "opsbook.plan",
}

__all__ = [
    "CheckConfig",
    "CheckContext",
    "CheckResult",
    "CheckType",
    "LoadedSpec",
    "OpsbookError",
    "Plan",
    "Problem",
    "SpecError",
    "StepContext",
    "StepKind",
    "StepResult",
    "__version__",
    "load_spec",
    "make_plan",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        from importlib import import_module

        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'opsbook' has no attribute {name!r}")
