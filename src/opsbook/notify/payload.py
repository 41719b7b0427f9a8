"""The Alertmanager webhook message, version 4, byte for byte as Alertmanager writes it.

Go's encoder writes struct fields in declaration order, map keys sorted, ``<``, ``>`` and ``&``
escaped as ``\\u003c``..., times in RFC 3339 with trimmed nanoseconds, the zero time
``0001-01-01T00:00:00Z`` for an unset ``endsAt``, and a newline at the end.
"""

from __future__ import annotations

import json
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


def _go_json(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


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
