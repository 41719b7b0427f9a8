"""Feature flags: the ``flags:`` section, Unleash-compatible bucketing, evaluation, state changes
recorded in the hash chain (see docs/flags.md)."""

from opsbook.flags.evaluate import Evaluation, EvaluationError, evaluate
from opsbook.flags.models import Flag
from opsbook.flags.state import FlagState

__all__ = ["Evaluation", "EvaluationError", "Flag", "FlagState", "evaluate"]
