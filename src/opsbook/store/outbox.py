"""Store queries of the notification outbox and its groups."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, and_, delete, func, insert, or_, select, update

from opsbook.store import schema

OB = schema.outbox
G = schema.notify_groups


def enqueue(conn: Connection, values: dict[str, Any]) -> int | None:
    """Insert one notification; None when (project, receiver, dedup_key) is already queued."""
    exists = conn.execute(
        select(OB.c.id).where(
            OB.c.project == values["project"],
            OB.c.receiver == values["receiver"],
            OB.c.dedup_key == values["dedup_key"],
        )
    ).first()
    if exists is not None:
        return None
    result = conn.execute(insert(OB).values(**values))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def pending_receivers(conn: Connection, project: str) -> list[str]:
    rows = conn.execute(
        select(OB.c.receiver).where(OB.c.project == project, OB.c.sent_at.is_(None)).distinct()
    )
    return sorted(r.receiver for r in rows)


def head(conn: Connection, project: str, receiver: str) -> Row[Any] | None:
    """The oldest unsent notification of a receiver (notifications go out in order)."""
    return conn.execute(
        select(OB)
        .where(OB.c.project == project, OB.c.receiver == receiver, OB.c.sent_at.is_(None))
        .order_by(OB.c.id)
        .limit(1)
    ).first()


def lease(conn: Connection, row_id: int, owner: str, now: float, ttl: float) -> bool:
    """Take the lease on an unsent, due row; True when this owner holds it."""
    free = or_(OB.c.lease_owner.is_(None), OB.c.lease_expires_at < now, OB.c.lease_owner == owner)
    return bool(
        conn.execute(
            update(OB)
            .where(OB.c.id == row_id, OB.c.sent_at.is_(None), OB.c.next_try_at <= now, free)
            .values(lease_owner=owner, lease_expires_at=now + ttl)
        ).rowcount
    )


def mark_sent(conn: Connection, row_id: int, owner: str, now: float) -> bool:
    return bool(
        conn.execute(
            update(OB)
            .where(OB.c.id == row_id, OB.c.lease_owner == owner, OB.c.sent_at.is_(None))
            .values(sent_at=now, lease_owner=None, lease_expires_at=None)
        ).rowcount
    )


def mark_failed(conn: Connection, row_id: int, owner: str, retry_at: float, error: str) -> None:
    conn.execute(
        update(OB)
        .where(OB.c.id == row_id, OB.c.lease_owner == owner)
        .values(
            attempts=OB.c.attempts + 1,
            next_try_at=retry_at,
            last_error=error,
            lease_owner=None,
            lease_expires_at=None,
        )
    )


def outbox_rows(conn: Connection, project: str, receiver: str | None = None) -> list[Row[Any]]:
    query = select(OB).where(OB.c.project == project)
    if receiver is not None:
        query = query.where(OB.c.receiver == receiver)
    return list(conn.execute(query.order_by(OB.c.id)))


def group_row(conn: Connection, project: str, receiver: str, key: str) -> Row[Any] | None:
    return conn.execute(
        select(G).where(G.c.project == project, G.c.receiver == receiver, G.c.group_key == key)
    ).first()


def save_group(conn: Connection, values: dict[str, Any]) -> None:
    key = and_(
        G.c.project == values["project"],
        G.c.receiver == values["receiver"],
        G.c.group_key == values["group_key"],
    )
    rest = {k: v for k, v in values.items() if k not in ("project", "receiver", "group_key")}
    if conn.execute(update(G).where(key).values(**rest)).rowcount == 0:
        conn.execute(insert(G).values(**values))


def drop_group(conn: Connection, project: str, receiver: str, key: str) -> None:
    conn.execute(
        delete(G).where(G.c.project == project, G.c.receiver == receiver, G.c.group_key == key)
    )


def count_unsent(conn: Connection, project: str) -> int:
    return int(
        conn.execute(
            select(func.count()).where(OB.c.project == project, OB.c.sent_at.is_(None))
        ).scalar_one()
    )
