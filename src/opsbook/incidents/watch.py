"""How incidents plug into ``opsbook watch``: a tick handler (escalation timers, response-time
breaches, cron schedules) and an alert-transition hook (a firing alert opens an incident, one
per alert group; a resolved alert resolves it when its severity says so).

Both are registered through entry points (``opsbook.ticks`` and ``opsbook.alert_hooks``).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from opsbook.monitor.ticks import Tick, owner_id

if TYPE_CHECKING:
    from opsbook.spec.loader import LoadedSpec
    from opsbook.store import Store

ACTOR = "opsbook-watch"


def _tick(store: Store, loaded: LoadedSpec, now: dt.datetime) -> dict[str, Any]:
    from opsbook.incidents.ticker import tick

    report = tick(store, loaded, now, owner=owner_id())
    return {
        "pages": len(report.pages),
        "breaches": report.breaches,
        "schedules": report.schedules,
    }


TICK = Tick("incidents", _tick, order=150)
"""After ``monitor`` (alerts open incidents first) and before ``deliver`` sends the pages."""


def severity_for_alert(loaded: LoadedSpec, alert_severity: str) -> str | None:
    """The incident severity whose ``alerts:`` lists the alert's severity, if any."""
    for name, severity in loaded.spec.severities.items():
        if alert_severity in severity.alerts:
            return name
    return None


def on_alert(store: Store, loaded: LoadedSpec, transition: Any) -> None:
    """Open (or deduplicate into) an incident when an alert fires; resolve it with the alert."""
    from opsbook.incidents import service

    group = transition.group_key or transition.fingerprint
    at = dt.datetime.fromtimestamp(transition.at, dt.UTC)
    if transition.event == "alert.firing":
        severity = severity_for_alert(loaded, transition.severity)
        if severity is None:
            return
        title = transition.annotations.get("summary") or transition.alert
        service.open_incident(
            store,
            loaded.spec,
            title[: service.MAX_TITLE],
            severity,
            now=at,
            actor=ACTOR,
            group_key=group,
            alert={"alert": transition.alert, "labels": dict(transition.labels)},
        )
    elif transition.event == "alert.resolved":
        found = service.open_for_alert(store, loaded.spec.project, group)
        spec_severity = loaded.spec.severities.get(found.severity) if found else None
        if found is not None and spec_severity is not None and spec_severity.resolve_with_alert:
            service.resolve(
                store,
                loaded.spec.project,
                found.ref,
                now=max(at, found.opened_at),
                actor=ACTOR,
                note=f"the alert {transition.alert} resolved",
            )
