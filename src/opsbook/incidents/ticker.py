"""What the watcher does for incidents on each tick, as a function of (spec, store, now):
page the escalation levels that are due, record SLA breaches, start scheduled runbooks.

Several watchers may tick at once (on one PostgreSQL): every page, breach and scheduled run is
claimed by a unique key first, so each happens once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import Connection

from opsbook.incidents import escalation, paging
from opsbook.incidents.service import Incident, from_row
from opsbook.incidents.states import ACTIVE, IncidentEvent
from opsbook.isotime import iso8601
from opsbook.spec.loader import LoadedSpec
from opsbook.spec.models import Spec
from opsbook.store import Store
from opsbook.store import events as chain
from opsbook.store import incidents as q


@dataclass
class TickReport:
    """What one tick did."""

    pages: list[paging.Page] = field(default_factory=list)
    breaches: list[str] = field(default_factory=list)
    schedules: list[dict[str, str]] = field(default_factory=list)


def _subject(incident: Incident) -> paging.Subject:
    return paging.Subject(incident.id, incident.ref, incident.severity, incident.opened_at)


def _message(incident: Incident, start: escalation.LevelStart | None, what: str) -> str:
    level = f" level {start.level}" if start is not None else ""
    return f"[{incident.severity}] {incident.ref} {incident.title}: {what}{level}"


def escalate_due(store: Store, spec: Spec, now: dt.datetime, owner: str) -> TickReport:
    """Page every level start that is due and was not paged yet; record SLA breaches."""
    report = TickReport()
    with store.begin() as conn:
        open_rows = q.list_incidents(conn, spec.project, statuses=[str(s) for s in ACTIVE])
    for incident in map(from_row, open_rows):
        if incident.opened_at > now:
            continue
        starts = escalation.plan(spec, incident.severity, incident.opened_at)
        due = escalation.due(starts, now, acked_at=incident.acked_at, closed_at=incident.closed_at)
        with store.begin() as conn:
            for start in due:
                for target in start.targets:
                    page = paging.claim(
                        conn,
                        spec,
                        _subject(incident),
                        key=start.key,
                        target=target,
                        due_at=start.at,
                        now=now,
                        owner=owner,
                        message=_message(incident, start, "paging"),
                    )
                    if page is None:
                        continue
                    report.pages.append(page)
                    chain.append(
                        conn,
                        str(IncidentEvent.PAGED),
                        actor=owner,
                        at=now.timestamp(),
                        data={
                            "incident": incident.ref,
                            "incident_id": incident.id,
                            "level": start.level,
                            "round": start.round,
                            "person": target.person,
                            "via": target.via,
                            "receivers": list(target.receivers),
                            "due_at": start.at.timestamp(),
                        },
                    )
            if _breached(incident, now) and q.mark_breached(
                conn, incident.id, incident.due_at.timestamp() if incident.due_at else 0.0
            ):
                report.breaches.append(incident.ref)
                if incident.acked_at is None:  # found late, after an ack: record, don't page
                    report.pages += _page_breach(conn, spec, incident, starts, now, owner)
                chain.append(
                    conn,
                    str(IncidentEvent.SLA_BREACHED),
                    actor=owner,
                    at=now.timestamp(),
                    data={
                        "incident": incident.ref,
                        "incident_id": incident.id,
                        "due_at": incident.due_at.timestamp() if incident.due_at else None,
                    },
                )
    return report


def _breached(incident: Incident, now: dt.datetime) -> bool:
    if incident.due_at is None or incident.breached_at is not None or incident.due_at > now:
        return False
    answered = incident.acked_at or incident.resolved_at
    return answered is None or answered > incident.due_at


def _page_breach(
    conn: Connection,
    spec: Spec,
    incident: Incident,
    starts: list[escalation.LevelStart],
    now: dt.datetime,
    owner: str,
) -> list[paging.Page]:
    """A breached SLA is a notification too: to the first level's people."""
    sent = []
    for target in starts[0].targets if starts else ():
        page = paging.claim(
            conn,
            spec,
            _subject(incident),
            key="breach",
            target=target,
            due_at=incident.due_at or now,
            now=now,
            owner=owner,
            message=_message(incident, None, "response time breached"),
        )
        if page is not None:
            sent.append(page)
    return sent


def escalate_now(
    store: Store, spec: Spec, ref: str, *, now: dt.datetime, actor: str
) -> list[paging.Page]:
    """Page the next level at once, by hand (``opsbook incident escalate``)."""
    from opsbook.errors import InvalidState
    from opsbook.incidents.service import get

    incident = get(store, spec.project, ref)
    if incident.resolved_at is not None:
        raise InvalidState(f"{incident.ref} is resolved; open a new incident instead")
    starts = escalation.plan(spec, incident.severity, incident.opened_at)
    with store.begin() as conn:
        paged = {row.key for row in q.pages(conn, incident.id)}
        following = [s for s in starts if s.key not in paged]
        if not following:
            raise InvalidState(
                f"{incident.ref} has paged every level of its escalation policy",
                hint="page someone directly, or add levels to the policy",
            )
        start = following[0]
        sent = []
        for target in start.targets:
            page = paging.claim(
                conn,
                spec,
                _subject(incident),
                key=start.key,
                target=target,
                due_at=now,
                now=now,
                owner=actor,
                message=_message(incident, start, "escalated by hand to"),
            )
            if page is not None:
                sent.append(page)
        chain.append(
            conn,
            str(IncidentEvent.ESCALATED),
            actor=actor,
            at=now.timestamp(),
            data={
                "incident": incident.ref,
                "incident_id": incident.id,
                "level": start.level,
                "people": [p.person for p in sent],
            },
        )
    return sent


def tick(store: Store, loaded: LoadedSpec, now: dt.datetime, *, owner: str) -> TickReport:
    """One watcher tick for incidents: escalations, SLA breaches, then scheduled runbooks."""
    from opsbook.incidents.schedules import run_due

    report = escalate_due(store, loaded.spec, now, owner)
    report.schedules = [
        {
            "schedule": s.schedule,
            "due_at": iso8601(s.due_at.timestamp()),
            "run": s.run_id or "",
            "outcome": s.outcome,
        }
        for s in run_due(store, loaded, now, owner)
    ]
    return report
