"""opsbook: release and operations runbooks as one checked-in file, run durably.

Public API for users and plugins; import from here only.
"""

from opsbook.errors import OpsbookError, Problem, SpecError
from opsbook.plan import Plan, make_plan
from opsbook.spec.loader import LoadedSpec, load_spec
from opsbook.steps.base import StepContext, StepKind, StepResult

__version__ = "0.1.0"

__all__ = [
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
