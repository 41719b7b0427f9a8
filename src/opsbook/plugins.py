"""Entry points of every installed package, read once per process.

``importlib.metadata.entry_points(group=...)`` reads the metadata of every installed
distribution on each call (about 12 ms in this project's environment); step kinds, check
types and source kinds each asked for their group, so one ``opsbook validate`` read it all
three times. Reading it once serves every group; a package installed while a process runs is
seen by the next process, as before (each registry cached its group for the process anyway).
"""

from __future__ import annotations

from functools import cache
from importlib import metadata
from typing import Any


@cache
def _all() -> Any:  # Python 3.11 types it SelectableGroups, 3.12 EntryPoints: both select()
    return metadata.entry_points()


def entry_points(group: str) -> metadata.EntryPoints:
    """The entry points of ``group``, from the one reading of this process."""
    selected: metadata.EntryPoints = _all().select(group=group)
    return selected
