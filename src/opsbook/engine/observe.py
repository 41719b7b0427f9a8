"""What an executor reports while it works, for a display (terminal, plain lines or JSON)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from opsbook.engine.states import EventType


@dataclass
class RunEvent:
    """One thing that happened. Secrets in ``data`` are already masked."""

    type: EventType
    run_id: str
    step_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    at: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "run": self.run_id,
            "step": self.step_id,
            "at": self.at,
            **self.data,
        }


Observer = Callable[[RunEvent], None]


def ignore(event: RunEvent) -> None:
    """An observer that shows nothing."""
