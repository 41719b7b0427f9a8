"""The Alertmanager webhook message, version 4, byte for byte as Alertmanager writes it.

Go's encoder writes struct fields in declaration order, map keys sorted, ``<``, ``>`` and ``&``
escaped as ``\\u003c``..., times in RFC 3339 with trimmed nanoseconds, the zero time
``0001-01-01T00:00:00Z`` for an unset ``endsAt``, and a newline at the end.
tests/test_notify_alertmanager.py compares this with what Debian's Alertmanager 0.25 sends.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

ZERO_TIME = "0001-01-01T00:00:00Z"


@dataclass(frozen=True)
class AlertItem:
    """One alert of a notification."""

    status: str  # firing | resolved
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: float | None
    ends_at: float | None
    fingerprint: str
    generator_url: str = ""


def go_time(at: float | None) -> str:
    """Go's RFC3339Nano rendering of a UNIX time (UTC), or the zero time for None."""
    if at is None:
        return ZERO_TIME
    moment = datetime.fromtimestamp(at, UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    micros = moment.microsecond
    if micros:
        text += "." + f"{micros:06d}".rstrip("0")
    return text + "Z"


# Where Go's encoder (Alertmanager 0.25, Debian's package) differs from json.dumps: it escapes
# <, >, & and the JavaScript line breaks U+2028 and U+2029, and writes \b and \f as \u0008 and
# \u000c. An escape pair is matched whole, so the "b" of an escaped backslash stays a "b".
_GO_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
    "\\b": "\\u0008",
    "\\f": "\\u000c",
}
_GO_DIFFERS = re.compile(r"\\.|[<>&\u2028\u2029]")


def _go_json(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return _GO_DIFFERS.sub(lambda m: _GO_ESCAPES.get(m.group(), m.group()), text)


def _sorted(mapping: Mapping[str, str]) -> dict[str, str]:
    return dict(sorted(mapping.items()))


def _common(maps: Sequence[Mapping[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    first = maps[0]
    return _sorted({k: v for k, v in first.items() if all(m.get(k) == v for m in maps[1:])})


def webhook_message(
    *,
    receiver: str,
    group_key: str,
    group_labels: Mapping[str, str],
    alerts: Sequence[AlertItem],
    external_url: str = "",
    truncated: int = 0,
) -> bytes:
    """The v4 JSON body Alertmanager POSTs to a webhook receiver."""
    status = "firing" if any(a.status == "firing" for a in alerts) else "resolved"
    message = {
        "receiver": receiver,
        "status": status,
        "alerts": [
            {
                "status": a.status,
                "labels": _sorted(a.labels),
                "annotations": _sorted(a.annotations),
                "startsAt": go_time(a.starts_at),
                "endsAt": go_time(a.ends_at),
                "generatorURL": a.generator_url,
                "fingerprint": a.fingerprint,
            }
            for a in alerts
        ],
        "groupLabels": _sorted(group_labels),
        "commonLabels": _common([a.labels for a in alerts]),
        "commonAnnotations": _common([a.annotations for a in alerts]),
        "externalURL": external_url,
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": truncated,
    }
    return (_go_json(message) + "\n").encode()
