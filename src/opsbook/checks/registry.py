"""The registry of check types, filled from the ``opsbook.checks`` entry-point group.

Types load on first use, one at a time: validating a file that only has ``http`` checks never
imports the ``sql`` type's driver.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint

from opsbook.checks.base import CheckType
from opsbook.plugins import entry_points

GROUP = "opsbook.checks"

BUILTIN_CHECKS = ("env",)
"""Checks every spec has without defining them: ``env`` (the environment contract)."""


@cache
def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


@cache
def get_check_type(name: str) -> CheckType:
    """The type registered under ``name``; KeyError if none."""
    ep = _entry_points()[name]
    cls = ep.load()
    if not (isinstance(cls, type) and issubclass(cls, CheckType)):
        raise TypeError(f"entry point {ep.name} = {ep.value} is not a CheckType subclass")
    return cls()


def check_type_names() -> list[str]:
    """Names of every registered check type, sorted."""
    return sorted(_entry_points())
