"""The registry of step kinds, filled from the ``opsbook.steps`` entry-point group.

Kinds load on first use, one at a time: validating a file made of ``run`` and ``check`` steps
never imports the ``migrate`` kind's database driver.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint

from opsbook.plugins import entry_points
from opsbook.steps.base import StepKind

GROUP = "opsbook.steps"


@cache
def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


@cache
def get_kind(name: str) -> StepKind:
    """The kind registered under name; KeyError if none."""
    ep = _entry_points()[name]
    cls = ep.load()
    if not (isinstance(cls, type) and issubclass(cls, StepKind)):
        raise TypeError(f"entry point {ep.name} = {ep.value} is not a StepKind subclass")
    return cls()


def is_kind(name: str) -> bool:
    """Whether a kind is registered under name (without loading it)."""
    return name in _entry_points()


def kind_names() -> list[str]:
    """Names of every registered kind, sorted."""
    return sorted(_entry_points())
