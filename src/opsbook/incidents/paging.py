"""Paging people: a page is claimed once (a unique row) and then handed to the notifier.

The claim and the hand-off happen in the caller's transaction, so a page is either recorded
and queued together, or not at all; a second watcher finds the row and does nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection

from opsbook.incidents.escalation import Target
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


def claim(
    conn: Connection,
    *,
    incident_id: str,
    ref: str,
    key: str,
    target: Target,
    due_at: dt.datetime,
    now: dt.datetime,
    owner: str,
    message: str,
) -> Page | None:
    """Record the page if nobody has; the Page when this call sent it, else None."""
    won = q.claim_page(
        conn,
        {
            "incident_id": incident_id,
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
    return Page(ref, key, target.person, target.via, target.receivers, due_at, message)
