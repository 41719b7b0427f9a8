"""Step kinds. Each kind is a :class:`~opsbook.steps.base.StepKind` registered under the
``opsbook.steps`` entry-point group; built-ins register exactly like third-party kinds."""

from opsbook.steps.base import StepContext, StepKind, StepResult
from opsbook.steps.registry import get_kind, kind_names

__all__ = ["StepContext", "StepKind", "StepResult", "get_kind", "kind_names"]
