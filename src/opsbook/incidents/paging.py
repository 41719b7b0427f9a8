"""Paging people: a page is claimed once (a unique row) and queued in the notification outbox
in the same transaction, so a page is recorded and queued together or not at all; a second
watcher finds the row and does nothing. ``opsbook watch`` sends the outbox (notify/outbox.py),
retrying a receiver that is down, in order.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlalchemy import Connection

from opsbook.incidents.escalation import Target
from opsbook.spec.models import Spec
from opsbook.store import incidents as q


@dataclass(frozen=True)
class Page:
    """One page that was sent (claimed by this process)."""

    incident: str
    key: str
    person: str
    via: str
    receivers: tuple[str, ...]
    due_at: dt.datetime
    message: str


@dataclass(frozen=True)
class Subject:
    """The incident a page is about."""

    id: str
    ref: str
    severity: str
    opened_at: dt.datetime


def claim(
    conn: Connection,
    spec: Spec,
    subject: Subject,
    *,
    key: str,
    target: Target,
    due_at: dt.datetime,
    now: dt.datetime,
    owner: str,
    message: str,
) -> Page | None:
    """Record and queue the page if nobody has; the Page when this call sent it, else None."""
    won = q.claim_page(
        conn,
        {
            "incident_id": subject.id,
            "key": key,
            "target": target.person,
            "via": target.via,
            "receivers": list(target.receivers),
            "due_at": due_at.timestamp(),
            "sent_at": now.timestamp(),
            "owner": owner,
        },
    )
    if not won:
        return None
    page = Page(subject.ref, key, target.person, target.via, target.receivers, due_at, message)
    _enqueue(conn, spec, subject, page, now)
    return page


def _enqueue(conn: Connection, spec: Spec, subject: Subject, page: Page, now: dt.datetime) -> None:
    """One outbox notification per receiver of the person (receivers declared under notify)."""
    from opsbook.notify.payload import AlertItem, webhook_message
    from opsbook.store.outbox import enqueue

    declared = spec.notify.receivers if spec.notify else {}
    group_key = f"incident/{subject.ref}"
    fingerprint = hashlib.sha256(f"{subject.id}/{page.key}/{page.person}".encode()).hexdigest()
    for receiver in page.receivers:
        if receiver not in declared:
            continue  # validation names it; a page to nowhere is still recorded
        body = webhook_message(
            receiver=receiver,
            group_key=group_key,
            group_labels={"incident": subject.ref},
            alerts=[
                AlertItem(
                    status="firing",
                    labels={
                        "alertname": "incident",
                        "incident": subject.ref,
                        "severity": subject.severity,
                        "person": page.person,
                        "page": page.key,
                    },
                    annotations={"summary": page.message},
                    starts_at=subject.opened_at.timestamp(),
                    ends_at=None,
                    fingerprint=fingerprint[:16],
                )
            ],
        )
        enqueue(
            conn,
            {
                "project": spec.project,
                "receiver": receiver,
                "group_key": group_key,
                "dedup_key": fingerprint[:64],
                "payload": body.decode(),
                "created_at": now.timestamp(),
                "next_try_at": 0.0,
                "attempts": 0,
            },
        )
