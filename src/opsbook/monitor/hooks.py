"""Who hears about alert transitions: incidents open from them, plugins may too.

A hook is a callable ``hook(store, loaded, transition)`` registered with :func:`on_transition`
or through the ``opsbook.alert_hooks`` entry-point group. Hooks run after the transition is
stored, once per transition, in the process that made it; an exception in one hook is recorded
as an event and does not stop the others.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opsbook.monitor.state import Transition
    from opsbook.spec.loader import LoadedSpec
    from opsbook.store import Store

GROUP = "opsbook.alert_hooks"
Hook = Callable[["Store", "LoadedSpec", "Transition"], Any]
_registered: list[Hook] = []


def on_transition(hook: Hook) -> Hook:
    """Register a hook (usable as a decorator)."""
    if hook not in _registered:
        _registered.append(hook)
    return hook


@cache
def _from_entry_points() -> tuple[Hook, ...]:
    return tuple(ep.load() for ep in entry_points(group=GROUP))


def hooks() -> list[Hook]:
    return [*_from_entry_points(), *_registered]
