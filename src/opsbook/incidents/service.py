"""An incident's life: open (by hand or from a firing alert), acknowledge, note, escalate,
mitigate, resolve. Each function is one library call of a CLI command and writes its change
and an event in the hash chain in one transaction."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from opsbook.errors import InvalidState, UsageError
from opsbook.incidents import clocks
from opsbook.incidents.states import ACTIVE, IncidentEvent, IncidentStatus, sources
from opsbook.spec.models import Spec
from opsbook.store import Store
from opsbook.store import events as chain
from opsbook.store import incidents as q

MAX_TITLE = 200
MAX_NOTE = 4000


@dataclass(frozen=True)
class Incident:
    """An incident as stored; times are aware UTC datetimes."""

    id: str
    number: int
    title: str
    severity: str
    status: IncidentStatus
    source: str
    group_key: str | None
    opened_by: str
    opened_at: dt.datetime
    due_at: dt.datetime | None
    acked_at: dt.datetime | None
    acked_by: str | None
    mitigated_at: dt.datetime | None
    resolved_at: dt.datetime | None
    breached_at: dt.datetime | None
    mitigation_run: str | None
    alert: dict[str, Any] | None

    @property
    def ref(self) -> str:
        return f"INC-{self.number}"

    @property
    def closed_at(self) -> dt.datetime | None:
        return self.resolved_at

    def to_json(self) -> dict[str, Any]:
        from opsbook.clock import isoformat

        out: dict[str, Any] = {"ref": self.ref}
        for key, value in vars(self).items():
            if isinstance(value, dt.datetime):
                out[key] = isoformat(value)
            elif isinstance(value, IncidentStatus):
                out[key] = str(value)
            else:
                out[key] = value
        return out


def _time(value: float | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromtimestamp(value, dt.UTC)


def from_row(row: Any) -> Incident:
    opened = _time(row.opened_at)
    assert opened is not None
    return Incident(
        id=row.id,
        number=row.number,
        title=row.title,
        severity=row.severity,
        status=IncidentStatus(row.status),
        source=row.source,
        group_key=row.group_key,
        opened_by=row.opened_by,
        opened_at=opened,
        due_at=_time(row.due_at),
        acked_at=_time(row.acked_at),
        acked_by=row.acked_by,
        mitigated_at=_time(row.mitigated_at),
        resolved_at=_time(row.resolved_at),
        breached_at=_time(row.breached_at),
        mitigation_run=row.mitigation_run,
        alert=dict(row.alert) if row.alert else None,
    )


def parse_ref(text: str) -> int:
    """``INC-12``, ``inc-12`` or ``12`` → 12."""
    value = text.strip().upper().removeprefix("INC-")
    if not value.isdigit() or len(value) > 9:
        raise UsageError(f"{text[:40]!r} is not an incident", hint="write INC-12 or 12")
    return int(value)


def get(store: Store, project: str, ref: str) -> Incident:
    with store.begin() as conn:
        return _get(conn, project, ref)


def _get(conn: Connection, project: str, ref: str) -> Incident:
    row = q.get_by_number(conn, project, parse_ref(ref))
    if row is None:
        raise UsageError(f"no incident {ref}", hint="list incidents with `opsbook incident list`")
    return from_row(row)


def open_for_alert(store: Store, project: str, group_key: str) -> Incident | None:
    """The open incident of an alert group, if any."""
    with store.begin() as conn:
        row = q.open_for_group(conn, project, group_key)
    return from_row(row) if row is not None else None


def list_incidents(store: Store, project: str, *, all_: bool = False) -> list[Incident]:
    statuses = None if all_ else [str(s) for s in ACTIVE]
    with store.begin() as conn:
        return [from_row(r) for r in q.list_incidents(conn, project, statuses=statuses)]


def _event(
    conn: Connection,
    type_: IncidentEvent,
    incident: Incident | dict[str, Any],
    *,
    actor: str,
    at: dt.datetime,
    **data: Any,
) -> None:
    if isinstance(incident, Incident):
        ref, iid = incident.ref, incident.id
    else:
        ref, iid = f"INC-{incident['number']}", incident["id"]
    chain.append(
        conn,
        str(type_),
        actor=actor,
        data={"incident": ref, "incident_id": iid, **data},
        at=at.timestamp(),
    )


def _check_text(value: str, what: str, limit: int) -> str:
    text = value.strip()
    if not text:
        raise UsageError(f"the {what} is empty", hint=f"give the {what} as text")
    if len(text) > limit:
        raise UsageError(f"the {what} is {len(text)} characters; at most {limit}")
    if any(ord(c) < 32 and c not in "\n\t" for c in text):
        raise UsageError(f"the {what} holds control characters; remove them")
    return text


def open_incident(
    store: Store,
    spec: Spec,
    title: str,
    severity: str,
    *,
    now: dt.datetime,
    actor: str,
    group_key: str | None = None,
    alert: dict[str, Any] | None = None,
) -> tuple[Incident, bool]:
    """Open an incident; with a ``group_key`` an open incident of that alert group is returned
    instead (created False) and the repeat is recorded on it."""
    title = _check_text(title, "title", MAX_TITLE)
    sev = spec.severities.get(severity)
    if sev is None:
        known = ", ".join(spec.severities) or "none declared; add severities: to opsbook.yaml"
        raise UsageError(f"unknown severity '{severity}'", hint=f"known: {known}")
    due = clocks.response_due(spec, sev, now)
    for _ in range(20):  # numbers race between processes: take the next one and retry
        with store.begin() as conn:
            if group_key is not None:
                existing = q.open_for_group(conn, spec.project, group_key)
                if existing is not None:
                    found = from_row(existing)
                    _event(conn, IncidentEvent.DEDUPLICATED, found, actor=actor, at=now)
                    return found, False
            number = q.next_number(conn, spec.project)
            row: dict[str, Any] = {
                "id": uuid.uuid4().hex[:16],
                "project": spec.project,
                "number": number,
                "title": title,
                "severity": severity,
                "status": str(IncidentStatus.OPEN),
                "source": "alert" if alert is not None else "manual",
                "group_key": group_key,
                "open_key": group_key,
                "alert": alert,
                "opened_by": actor,
                "opened_at": now.timestamp(),
                "due_at": due.timestamp(),
            }
            if q.insert_incident(conn, row):
                _event(
                    conn,
                    IncidentEvent.OPENED,
                    row,
                    actor=actor,
                    at=now,
                    title=title,
                    severity=severity,
                    source=row["source"],
                    group_key=group_key,
                    due_at=due.timestamp(),
                )
                return from_row(q.get_by_number(conn, spec.project, number)), True
    raise InvalidState("could not allocate an incident number; try again")


def _move(
    store: Store,
    project: str,
    ref: str,
    target: IncidentStatus,
    event: IncidentEvent,
    *,
    now: dt.datetime,
    actor: str,
    values: dict[str, Any],
    data: dict[str, Any],
) -> Incident:
    with store.begin() as conn:
        incident = _get(conn, project, ref)
        if incident.opened_at > now:
            raise UsageError(
                f"{incident.ref} opened at {incident.opened_at.isoformat()}, after --now",
                hint="give a --now after the incident opened",
            )
        if not q.set_incident(
            conn, incident.id, expect=sources(target), status=str(target), **values
        ):
            raise InvalidState(
                f"{incident.ref} is {incident.status}; it cannot become {target}",
                hint="see `opsbook incident show " + incident.ref + "`",
            )
        _event(conn, event, incident, actor=actor, at=now, **data)
        return _get(conn, project, ref)


def acknowledge(store: Store, project: str, ref: str, *, now: dt.datetime, actor: str) -> Incident:
    """Take ownership: escalation stops at the levels that start after ``now``."""
    return _move(
        store,
        project,
        ref,
        IncidentStatus.ACKNOWLEDGED,
        IncidentEvent.ACKNOWLEDGED,
        now=now,
        actor=actor,
        values={"acked_at": now.timestamp(), "acked_by": actor},
        data={},
    )


def mitigate(
    store: Store,
    project: str,
    ref: str,
    *,
    now: dt.datetime,
    actor: str,
    note: str | None = None,
    run_id: str | None = None,
) -> Incident:
    """The impact is over (by a runbook run, or by hand); an unacknowledged incident is
    acknowledged by the same person."""
    values: dict[str, Any] = {"mitigated_at": now.timestamp(), "mitigation_run": run_id}
    current = get(store, project, ref)
    if current.acked_at is None:
        values.update(acked_at=now.timestamp(), acked_by=actor)
    data: dict[str, Any] = {"run": run_id}
    if note:
        data["note"] = _check_text(note, "note", MAX_NOTE)
    return _move(
        store,
        project,
        ref,
        IncidentStatus.MITIGATED,
        IncidentEvent.MITIGATED,
        now=now,
        actor=actor,
        values=values,
        data=data,
    )


def resolve(
    store: Store, project: str, ref: str, *, now: dt.datetime, actor: str, note: str | None = None
) -> Incident:
    """Close the incident; its alert group may open a new one afterwards."""
    current = get(store, project, ref)
    values: dict[str, Any] = {"resolved_at": now.timestamp(), "open_key": None}
    if current.acked_at is None:
        values.update(acked_at=now.timestamp(), acked_by=actor)
    data: dict[str, Any] = {}
    if note:
        data["note"] = _check_text(note, "note", MAX_NOTE)
    return _move(
        store,
        project,
        ref,
        IncidentStatus.RESOLVED,
        IncidentEvent.RESOLVED,
        now=now,
        actor=actor,
        values=values,
        data=data,
    )


def add_note(
    store: Store, project: str, ref: str, text: str, *, now: dt.datetime, actor: str
) -> Incident:
    note = _check_text(text, "note", MAX_NOTE)
    with store.begin() as conn:
        incident = _get(conn, project, ref)
        _event(conn, IncidentEvent.NOTED, incident, actor=actor, at=now, note=note)
        return incident
