"""A weekly window, as a recurring silence's ``every:`` gives it: ``sun 02:00-04:00``,
``mon-fri 12:00-13:00``, ``day 03:00-04:00``, ``sat 23:00-01:00`` (over midnight)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_EVERY = re.compile(
    r"^\s*(?:(?P<days>[a-z]{3}(?:\s*[-,]\s*[a-z]{3})*|day)\s+)?"
    r"(?P<h1>\d{1,2}):(?P<m1>\d{2})\s*-\s*(?P<h2>\d{1,2}):(?P<m2>\d{2})\s*$"
)


@dataclass(frozen=True)
class Weekly:
    """A weekly window: days (0 = Monday) and minutes from midnight, end exclusive."""

    days: frozenset[int]
    start: int
    end: int

    def contains(self, local: datetime) -> bool:
        minute = local.hour * 60 + local.minute
        if self.start <= self.end:
            return local.weekday() in self.days and self.start <= minute < self.end
        # Over midnight: "sat 23:00-01:00" holds from Saturday 23:00 to Sunday 01:00.
        yesterday = (local.weekday() - 1) % 7
        return (local.weekday() in self.days and minute >= self.start) or (
            yesterday in self.days and minute < self.end
        )


def parse_every(text: str) -> Weekly:
    """A weekly window: ``sun 02:00-04:00``, ``mon-fri 12:00-13:00``, ``day 03:00-04:00``."""
    found = _EVERY.match(text.lower())
    if not found:
        raise ValueError(
            f"every {text!r} is not 'DAYS HH:MM-HH:MM'; write e.g. 'sun 02:00-04:00' or "
            "'mon-fri 12:00-13:00'"
        )
    days: set[int] = set()
    spec = found.group("days") or "day"
    if spec == "day":
        days = set(range(7))
    else:
        for part in re.split(r"\s*,\s*", spec):
            ends = [p.strip() for p in part.split("-")]
            if any(e not in _DAYS for e in ends):
                raise ValueError(f"every {text!r}: unknown day in {part!r}; use mon..sun")
            a, b = _DAYS.index(ends[0]), _DAYS.index(ends[-1])
            days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    start = int(found.group("h1")) * 60 + int(found.group("m1"))
    end = int(found.group("h2")) * 60 + int(found.group("m2"))
    if (
        start > 24 * 60
        or end > 24 * 60
        or int(found.group("m1")) > 59
        or int(found.group("m2")) > 59
    ):
        raise ValueError(f"every {text!r}: times run from 00:00 to 24:00")
    return Weekly(frozenset(days), start, end)
