"""Alerts from an existing Prometheus or Alertmanager: ``POST /api/v2/alerts``.

The body is Alertmanager's: a JSON list of ``{labels, annotations, startsAt, endsAt,
generatorURL}``. Each alert becomes an alert instance (origin ``intake``) that ``opsbook alerts``
shows and notify routes like any other. An alert without ``endsAt`` resolves 5 minutes after it
was last sent (Alertmanager's ``resolve_timeout``; Prometheus resends firing alerts well within
that).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from opsbook.errors import UsageError
from opsbook.monitor.evaluate import ACTOR, AlertStatus, group_key_of, run_hooks
from opsbook.monitor.labels import fingerprint
from opsbook.monitor.state import AlertState, Instance, Transition
from opsbook.utf8 import bad_offset

if TYPE_CHECKING:
    from opsbook.spec.loader import LoadedSpec
    from opsbook.store import Store

RESOLVE_TIMEOUT = 300.0
MAX_ALERTS = 1000
_LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _time(value: Any, where: str) -> float | None:
    if value in (None, "", "0001-01-01T00:00:00Z"):
        return None
    if not isinstance(value, str):
        raise UsageError(f"{where}: expected an RFC 3339 time, got {type(value).__name__}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{where}: {value[:40]!r} is not an RFC 3339 time") from None
    if parsed.tzinfo is None:
        raise UsageError(f"{where}: {value[:40]!r} has no time zone; end it with Z")
    return parsed.timestamp()


def _strings(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise UsageError(f"{where}: expected an object of strings")
    for key, text in value.items():
        if not _LABEL.match(key):
            raise UsageError(f"{where}: label name {key[:40]!r} is not [A-Za-z_][A-Za-z0-9_]*")
        offset = bad_offset(text)
        if offset is not None:
            raise UsageError(
                f"{where}.{key}: character {offset} is a lone surrogate (\\ud800 to \\udfff),"
                " not text; send UTF-8"
            )
    return dict(value)


def parse_alerts(body: Any) -> list[dict[str, Any]]:
    """Validate an Alertmanager alert list; UsageError (HTTP 400) naming the bad item."""
    if not isinstance(body, list):
        raise UsageError("the body must be a JSON list of alerts")
    if len(body) > MAX_ALERTS:
        raise UsageError(f"{len(body)} alerts in one request; send at most {MAX_ALERTS}")
    out = []
    for index, item in enumerate(body):
        where = f"alerts[{index}]"
        if not isinstance(item, dict):
            raise UsageError(f"{where}: expected an object")
        labels = _strings(item.get("labels"), f"{where}.labels")
        if not labels.get("alertname"):
            raise UsageError(f"{where}.labels: alertname is missing")
        out.append(
            {
                "labels": labels,
                "annotations": _strings(item.get("annotations"), f"{where}.annotations"),
                "starts_at": _time(item.get("startsAt"), f"{where}.startsAt"),
                "ends_at": _time(item.get("endsAt"), f"{where}.endsAt"),
            }
        )
    return out


def receive_alerts(store: Store, loaded: LoadedSpec, body: Any, now: datetime) -> int:
    """Store alerts posted to ``/api/v2/alerts``; returns how many. Transitions (a new firing
    alert, one that resolved) are events and run the transition hooks like rule alerts."""
    from opsbook.monitor.evaluate import load_statuses, save_statuses

    alerts = parse_alerts(body)
    project = loaded.spec.project
    at = now.timestamp()
    previous = load_statuses(store, project)
    statuses: list[AlertStatus] = []
    changes: list[Transition] = []
    for alert in alerts:
        labels = alert["labels"]
        fp = fingerprint(labels)
        prev = previous.get((labels["alertname"], fp))
        ends = alert["ends_at"] if alert["ends_at"] is not None else at + RESOLVE_TIMEOUT
        firing = ends > at
        before = prev.instance if prev is not None else Instance()
        start = alert["starts_at"] or before.firing_since or at
        instance = Instance(
            state=AlertState.FIRING if firing else AlertState.INACTIVE,
            active_at=start if firing else None,
            firing_since=start if firing else None,
            resolved_at=None if firing else ends,
            last_true_at=ends,
        )
        statuses.append(
            AlertStatus(labels["alertname"], labels, alert["annotations"], instance, "intake")
        )
        if before.state != instance.state:
            changes.append(
                Transition(
                    alert=labels["alertname"],
                    event="alert.firing" if firing else "alert.resolved",
                    at=at,
                    labels=labels,
                    annotations=alert["annotations"],
                    fingerprint=fp,
                    value=None,
                    severity=labels.get("severity", ""),
                    group_key=group_key_of(loaded.spec, labels),
                )
            )
    save_statuses(store, project, statuses, changes)
    run_hooks(store, loaded, changes)
    return len(alerts)


def expire_intake(store: Store, loaded: LoadedSpec, now: datetime) -> int:
    """Resolve intake alerts whose end time passed; returns how many."""
    from opsbook.monitor.evaluate import load_statuses, save_statuses

    at = now.timestamp()
    statuses, changes = [], []
    for status in load_statuses(store, loaded.spec.project).values():
        inst = status.instance
        if status.origin != "intake" or inst.state != AlertState.FIRING:
            continue
        if inst.last_true_at is None or inst.last_true_at > at:
            continue
        after = Instance(
            AlertState.INACTIVE, resolved_at=inst.last_true_at, last_true_at=inst.last_true_at
        )
        statuses.append(
            AlertStatus(status.alert, status.labels, status.annotations, after, "intake")
        )
        changes.append(
            Transition(
                status.alert,
                "alert.resolved",
                at,
                status.labels,
                status.annotations,
                status.fingerprint,
                None,
                status.severity,
                group_key_of(loaded.spec, status.labels),
            )
        )
    if statuses:
        save_statuses(store, loaded.spec.project, statuses, changes)
        run_hooks(store, loaded, changes)
    return len(statuses)


__all__ = ["ACTOR", "expire_intake", "parse_alerts", "receive_alerts"]
