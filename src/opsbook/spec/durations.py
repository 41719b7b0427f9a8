"""Durations in opsbook.yaml: ``30s``, ``10m``, ``1h30m``, ``500ms``, ``2d`` or plain seconds."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: Any) -> float:
    """Return seconds for a duration.

    >>> parse_duration("1h30m"), parse_duration("500ms"), parse_duration(5)
    (5400.0, 0.5, 5.0)
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration; write e.g. 30s, 10m, 1h30m or 500ms")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"{value} is negative; a duration is 0 or more")
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a duration; write e.g. 30s, 10m, 1h30m or 500ms")
    text = value.strip().replace(" ", "")
    pos = 0
    total = 0.0
    for match in _PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if not text or pos != len(text):
        raise ValueError(
            f"{value!r} is not a duration; write a number with a unit: 500ms, 30s, 10m, 1h30m, 2d"
        )
    return total


def format_duration(seconds: float) -> str:
    """Inverse of :func:`parse_duration` for display.

    >>> format_duration(5400), format_duration(0.5), format_duration(42)
    ('1h30m', '500ms', '42s')
    """
    if seconds < 1 and seconds > 0:
        return f"{round(seconds * 1000)}ms"
    rest = round(seconds)
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if rest >= size:
            out += f"{rest // size}{unit}"
            rest %= size
    if rest or not out:
        out += f"{rest}s"
    return out


Duration = Annotated[float, BeforeValidator(parse_duration), PlainSerializer(format_duration)]
"""A pydantic field type: accepts duration text, holds seconds."""
