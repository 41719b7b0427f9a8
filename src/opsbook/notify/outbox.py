"""The durable outbox: notifications are stored first and sent after, in order per receiver.

A receiver that is down keeps its queue: the oldest unsent notification is retried (backing off
up to ``MAX_BACKOFF``) and nothing behind it overtakes it, so when the receiver is back it gets
every notification in order. Each row is sent under a lease, so two ``watch`` processes on one
PostgreSQL never send the same row; a dedup key makes enqueueing the same notification twice a
no-op.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opsbook.errors import UsageError

if TYPE_CHECKING:
    from opsbook.spec.loader import LoadedSpec
    from opsbook.store import Store

LEASE = 60.0
MAX_BACKOFF = 10.0


@dataclass
class Delivered:
    receiver: str
    id: int
    ok: bool
    error: str = ""


def notify(
    store: Store,
    loaded: LoadedSpec,
    receiver: str,
    body: bytes,
    *,
    group_key: str,
    dedup_key: str | None = None,
    now: float | None = None,
) -> int | None:
    """Queue ``body`` (an Alertmanager v4 message, see notify.payload.webhook_message) for the
    named receiver; returns the outbox id, or None when the same dedup key was queued before.

    This is the library call other packages use to page someone (incidents' escalation steps):
    the notification survives restarts and is sent by whichever ``watch`` holds the lease.
    """
    from opsbook.store import events
    from opsbook.store.outbox import enqueue

    receivers = loaded.spec.notify.receivers if loaded.spec.notify else {}
    if receiver not in receivers:
        known = ", ".join(receivers) or "none; declare them under notify.receivers"
        raise UsageError(f"unknown receiver '{receiver}'", hint=f"known receivers: {known}")
    at = time.time() if now is None else now
    key = dedup_key or hashlib.sha256(body).hexdigest()
    with store.begin() as conn:
        row_id = enqueue(
            conn,
            {
                "project": loaded.spec.project,
                "receiver": receiver,
                "group_key": group_key,
                "dedup_key": key[:64],
                "payload": body.decode(),
                "created_at": at,
                "next_try_at": 0.0,
                "attempts": 0,
            },
        )
        if row_id is not None:
            events.append(
                conn,
                "notify.queued",
                actor="opsbook-notify",
                data={
                    "project": loaded.spec.project,
                    "receiver": receiver,
                    "id": row_id,
                    "group_key": group_key,
                },
            )
    return row_id


def deliver(store: Store, loaded: LoadedSpec, owner: str) -> list[Delivered]:
    """Send what is due, oldest first per receiver; a failure stops that receiver's queue until
    its retry time. Uses the real clock: sending is a real-world effect."""
    from opsbook.monitor.metrics import source_context
    from opsbook.notify.receivers import SendError, send
    from opsbook.store import events
    from opsbook.store.outbox import head, lease, mark_failed, mark_sent, pending_receivers

    project = loaded.spec.project
    receivers = loaded.spec.notify.receivers if loaded.spec.notify else {}
    ctx = source_context(loaded)
    out: list[Delivered] = []
    with store.begin() as conn:
        names = pending_receivers(conn, project)
    for name in names:
        config = receivers.get(name)
        while True:
            now = time.time()
            with store.begin() as conn:
                row = head(conn, project, name)
                if row is None or not lease(conn, row.id, owner, now, LEASE):
                    break
            if config is None:
                error = f"receiver {name} is no longer in opsbook.yaml"
                ok = False
            else:
                try:
                    send(name, config, row.payload.encode(), ctx.render)
                    ok, error = True, ""
                except SendError as err:
                    ok, error = False, str(err)
            with store.begin() as conn:
                if ok:
                    mark_sent(conn, row.id, owner, time.time())
                    events.append(
                        conn,
                        "notify.sent",
                        actor="opsbook-notify",
                        data={"project": project, "receiver": name, "id": row.id},
                    )
                else:
                    backoff = min(2.0**row.attempts, MAX_BACKOFF)
                    mark_failed(conn, row.id, owner, time.time() + backoff, error)
            out.append(Delivered(name, int(row.id), ok, error))
            if not ok:
                break
    return out
