"""The registry of source kinds, filled from the ``opsbook.sources`` entry-point group."""

from __future__ import annotations

from functools import cache

from opsbook.plugins import entry_points
from opsbook.sources.base import SourceKind

GROUP = "opsbook.sources"


@cache
def _kinds() -> dict[str, SourceKind]:
    kinds: dict[str, SourceKind] = {}
    for ep in entry_points(group=GROUP):
        cls = ep.load()
        if not (isinstance(cls, type) and issubclass(cls, SourceKind)):
            raise TypeError(f"entry point {ep.name} = {ep.value} is not a SourceKind subclass")
        kinds[ep.name] = cls()
    return kinds


def get_source_kind(name: str) -> SourceKind:
    """The kind registered under name; KeyError if none."""
    return _kinds()[name]


def source_kind_names() -> list[str]:
    """Names of every registered kind, sorted."""
    return sorted(_kinds())
