"""Times in JSON output: ISO 8601 in UTC (``2026-12-01T21:52:41.123Z``), never epoch floats.

The store keeps seconds since the epoch; every ``--json`` document and JSON line passes through
:func:`with_iso_times`, which writes each number under a key named ``at``, ``since`` or
``until`` or ending in ``_at``, ``_since`` or ``_until`` (``created_at``, ``wake_at``,
``firing_since``, ``locked_until``) as ISO 8601, and every ``datetime`` wherever it is.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def iso8601(seconds: float) -> str:
    """Seconds since the epoch as ISO 8601 UTC (milliseconds only when there are some).

    >>> iso8601(0), iso8601(1764625961.5)
    ('1970-01-01T00:00:00Z', '2025-12-01T21:52:41.500Z')
    """
    moment = datetime.fromtimestamp(round(seconds, 3), UTC)  # no ".000Z" from a float's tail
    precision = "seconds" if moment.microsecond == 0 else "milliseconds"
    return moment.isoformat(timespec=precision).replace("+00:00", "Z")


_TIME_KEYS = ("at", "since", "until")


def _is_time_key(key: object) -> bool:
    return isinstance(key, str) and (
        key in _TIME_KEYS or key.endswith(tuple("_" + k for k in _TIME_KEYS))
    )


def with_iso_times(value: Any) -> Any:
    """``value`` with every epoch time under a time key, and every datetime, as ISO 8601."""
    if isinstance(value, datetime):
        return iso8601(value.timestamp())
    if isinstance(value, dict):
        return {
            k: iso8601(v)
            if _is_time_key(k) and isinstance(v, int | float) and not isinstance(v, bool)
            else with_iso_times(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [with_iso_times(v) for v in value]
    return value
