"""The registry of step kinds, filled from the ``opsbook.steps`` entry-point group."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from opsbook.steps.base import StepKind

GROUP = "opsbook.steps"


@cache
def _kinds() -> dict[str, StepKind]:
    kinds: dict[str, StepKind] = {}
    for ep in entry_points(group=GROUP):
        cls = ep.load()
        if not (isinstance(cls, type) and issubclass(cls, StepKind)):
            raise TypeError(f"entry point {ep.name} = {ep.value} is not a StepKind subclass")
        kinds[ep.name] = cls()
    return kinds


def get_kind(name: str) -> StepKind:
    """The kind registered under name; KeyError if none."""
    return _kinds()[name]


def kind_names() -> list[str]:
    """Names of every registered kind, sorted."""
    return sorted(_kinds())
