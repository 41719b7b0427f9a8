"""An incident's timeline: its own events (alerts, pages, acks, notes, escalations) and every
change opsbook recorded in the two hours before it opened (runs, gate approvals, migrations,
flag changes), read from our own log: nobody wires anything up."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from opsbook.incidents.service import Incident
from opsbook.store import Store
from opsbook.store import incidents as q

LOOKBACK = dt.timedelta(hours=2)
CHANGE_EVENT_PREFIXES = ("flag_", "rollout_")
"""Event types of other parts that count as changes (feature flags, rollouts)."""
INCIDENT_EVENT_PREFIXES = ("incident_", "alert.")
ALERT_LOOKBACK = 86400.0
"""Alert transitions are read from a day before the incident (the alert fired before it)."""


@dataclass(frozen=True)
class Entry:
    """One line of the timeline."""

    at: dt.datetime
    kind: str  # opened, alert, page, ack, note, escalation, breach, mitigation, resolved, run,
    # approval, migration, flag
    text: str
    change: bool = False  # before the incident: a change that may have contributed
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        from opsbook.clock import isoformat

        return {
            "at": isoformat(self.at),
            "kind": self.kind,
            "text": self.text,
            "change": self.change,
            "data": self.data,
        }


def _t(value: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(value, dt.UTC)


_KINDS = {
    "incident_opened": "opened",
    "incident_alert_repeated": "alert",
    "incident_acknowledged": "ack",
    "incident_noted": "note",
    "incident_paged": "page",
    "incident_escalated": "escalation",
    "incident_sla_breached": "breach",
    "incident_mitigated": "mitigation",
    "incident_resolved": "resolved",
}


def _incident_text(event: dict[str, Any]) -> str:
    data, actor = event["data"], event["actor"]
    kind = str(event["type"])
    if kind == "incident_opened":
        return f"opened by {actor}: {data.get('title', '')} ({data.get('severity', '')})"
    if kind == "incident_alert_repeated":
        return "the alert fired again (deduplicated)"
    if kind == "incident_acknowledged":
        return f"acknowledged by {actor}"
    if kind == "incident_noted":
        return f"note by {actor}: {data.get('note', '')}"
    if kind == "incident_paged":
        via = data.get("via", "")
        shown = f"{data.get('person')} ({via})" if via != data.get("person") else via
        return f"paged {shown}, level {data.get('level')}"
    if kind == "incident_escalated":
        people = ", ".join(data.get("people") or [])
        return f"escalated by {actor} to level {data.get('level')}: {people}"
    if kind == "incident_sla_breached":
        return "response time breached: nobody acknowledged in time"
    if kind == "incident_mitigated":
        run = f" by run {data['run']}" if data.get("run") else ""
        note = f": {data['note']}" if data.get("note") else ""
        return f"mitigated{run} ({actor}){note}"
    if kind == "incident_resolved":
        note = f": {data['note']}" if data.get("note") else ""
        return f"resolved by {actor}{note}"
    if kind.startswith("alert."):
        value = f" (value {data['value']:g})" if isinstance(data.get("value"), int | float) else ""
        return f"alert {data.get('alert', '')} {kind.removeprefix('alert.')}{value}"
    return str(kind).replace("_", " ")


def incident_entries(store: Store, incident: Incident) -> list[Entry]:
    """The incident's own events, from the moment it opened."""
    start = incident.opened_at.timestamp()
    with store.begin() as conn:
        found = q.events_between(
            conn, start - ALERT_LOOKBACK, start + 400 * 86400, INCIDENT_EVENT_PREFIXES
        )
    entries = []
    for event in found:
        data = event["data"]
        mine = data.get("incident_id") == incident.id
        alert = (
            event["type"].startswith("alert.")
            and incident.group_key is not None
            and data.get("group_key") == incident.group_key
        )
        if mine or alert:
            kind = _KINDS.get(event["type"], "alert")
            # An alert transition happened at its evaluation's time (data.at), not when written.
            at = float(data["at"]) if alert and isinstance(data.get("at"), int | float) else None
            entries.append(Entry(_t(at or event["at"]), kind, _incident_text(event), data=data))
    return entries


def change_entries(store: Store, project: str, opened_at: dt.datetime) -> list[Entry]:
    """Runs, gate approvals, migrations and flag changes in the two hours before ``opened_at``."""
    end = opened_at.timestamp()
    start = (opened_at - LOOKBACK).timestamp()
    with store.begin() as conn:
        runs = q.runs_between(conn, project, start, end)
        ids = [r.id for r in runs]
        approvals = q.approvals_of(conn, ids)
        steps = q.steps_of(conn, ids)
        flags = q.events_between(conn, start, end, CHANGE_EVENT_PREFIXES)
    entries: list[Entry] = []
    for run in runs:
        version = (run.params or {}).get("version")
        what = f"{run.runbook}" + (f" {version}" if version else "")
        entries.append(
            Entry(
                _t(run.created_at),
                "run",
                f"run {run.id} {what} on {run.environment} by {run.operator}: {run.status}",
                change=True,
                data={
                    "run": run.id,
                    "runbook": run.runbook,
                    "environment": run.environment,
                    "status": run.status,
                    "git_sha": run.git_sha,
                },
            )
        )
    for approval in approvals:
        if start <= approval.created_at <= end:
            entries.append(
                Entry(
                    _t(approval.created_at),
                    "approval",
                    f"gate {approval.step_id} {approval.decision} by {approval.operator}"
                    f" in run {approval.run_id}",
                    change=True,
                    data={
                        "run": approval.run_id,
                        "step": approval.step_id,
                        "decision": approval.decision,
                        "operator": approval.operator,
                    },
                )
            )
    for step in steps:
        applied = _applied(step.result)
        if applied and step.finished_at is not None and step.finished_at <= end:
            entries.append(
                Entry(
                    _t(step.finished_at),
                    "migration",
                    f"migration {', '.join(applied)} applied by run {step.run_id}"
                    f" step {step.step_id}",
                    change=True,
                    data={"run": step.run_id, "step": step.step_id, "applied": applied},
                )
            )
    for event in flags:
        data = event["data"]
        if data.get("project", project) != project:
            continue
        entries.append(Entry(_t(event["at"]), "flag", _flag_text(event), change=True, data=data))
    return entries


def _flag_text(event: dict[str, Any]) -> str:
    """``flag new-checkout: on 10% → on 50% by ana (canary step 2)``."""
    data = event["data"]
    name = data.get("flag") or data.get("name") or ""

    def state(value: Any) -> str:
        if not isinstance(value, dict):
            return "?"
        return f"{'on' if value.get('enabled') else 'off'} {value.get('percent', '?')}%"

    text = f"flag {name}: {state(data.get('before'))} → {state(data.get('after'))}"
    text += f" by {event['actor']}"
    if event.get("run_id"):
        text += f" in run {event['run_id']}"
    return text + (f" ({data['reason']})" if data.get("reason") else "")


def _applied(result: Any) -> list[str]:
    """Migration files a migrate step applied, from its stored result."""
    data = (result or {}).get("data") if isinstance(result, dict) else None
    applied = (data or {}).get("applied") if isinstance(data, dict) else None
    if not isinstance(applied, list):
        return []
    names = []
    for item in applied:
        if isinstance(item, dict):
            names.append(str(item.get("filename") or item.get("name") or item))
        else:
            names.append(str(item))
    return names


def timeline(store: Store, project: str, incident: Incident) -> list[Entry]:
    """Changes before the incident, then the incident itself, in time order."""
    entries = change_entries(store, project, incident.opened_at) + incident_entries(store, incident)
    return sorted(entries, key=lambda e: (e.at, not e.change))
