"""A flag's live state, kept in the store: on or off, the rollout percentage, per-user overrides.

The state a flag has before anyone touches it comes from opsbook.yaml (``enabled``,
``rollout.percent``); every change after that is a row in the store and an event in the hash
chain (see :mod:`opsbook.flags.changes`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opsbook.flags.models import Flag


@dataclass(frozen=True)
class FlagState:
    """What can change about a flag without editing opsbook.yaml."""

    enabled: bool
    percent: int
    overrides: dict[str, Any] = field(default_factory=dict)
    """Targeting key → what that user is served (true/false, or a variant's name)."""
    updated_at: float | None = None
    updated_by: str = ""
    reason: str = ""

    @classmethod
    def initial(cls, flag: Flag) -> FlagState:
        """The state opsbook.yaml gives a flag nobody has changed."""
        return cls(enabled=flag.enabled, percent=flag.percent)

    def facts(self) -> dict[str, Any]:
        """The state as recorded in events and shown by ``--json`` (no bookkeeping)."""
        return {"enabled": self.enabled, "percent": self.percent, "overrides": self.overrides}
