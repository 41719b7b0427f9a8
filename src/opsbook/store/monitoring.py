"""Store queries of monitoring: alert instances, stored samples, silences, leases of ticks."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Row, and_, delete, insert, or_, select, update

from opsbook.store import schema

A = schema.alert_instances


def alert_rows(conn: Connection, project: str, alert: str | None = None) -> list[Row[Any]]:
    """Stored alert instances of a project (of one alert when named), by alert and labels."""
    query = select(A).where(A.c.project == project)
    if alert is not None:
        query = query.where(A.c.alert == alert)
    return list(conn.execute(query.order_by(A.c.alert, A.c.fingerprint)))


def save_alert(conn: Connection, values: dict[str, Any]) -> None:
    """Insert or update one alert instance (keyed by project, alert, fingerprint)."""
    key = and_(
        A.c.project == values["project"],
        A.c.alert == values["alert"],
        A.c.fingerprint == values["fingerprint"],
    )
    rest = {k: v for k, v in values.items() if k not in ("project", "alert", "fingerprint")}
    if conn.execute(update(A).where(key).values(**rest)).rowcount == 0:
        conn.execute(insert(A).values(**values))


def delete_alert(conn: Connection, project: str, alert: str, fingerprint: str) -> None:
    conn.execute(
        delete(A).where(A.c.project == project, A.c.alert == alert, A.c.fingerprint == fingerprint)
    )


S = schema.samples


def add_samples(conn: Connection, project: str, rows: Iterable[tuple[str, float, float]]) -> None:
    """Record (series, at, value) samples; a sample already stored at that time is kept."""
    for series, at, value in rows:
        exists = conn.execute(
            select(S.c.at).where(S.c.project == project, S.c.series == series, S.c.at == at)
        ).first()
        if exists is None:
            conn.execute(insert(S).values(project=project, series=series, at=at, value=value))


def read_samples(
    conn: Connection, project: str, series: str, start: float, end: float
) -> list[tuple[float, float]]:
    """(at, value) of one series with start <= at <= end, oldest first."""
    rows = conn.execute(
        select(S.c.at, S.c.value)
        .where(S.c.project == project, S.c.series == series, S.c.at >= start, S.c.at <= end)
        .order_by(S.c.at)
    )
    return [(float(r.at), float(r.value)) for r in rows]


SI = schema.silences


def add_silence(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(SI).values(**values))


def silence_rows(conn: Connection, project: str) -> list[Row[Any]]:
    return list(conn.execute(select(SI).where(SI.c.project == project).order_by(SI.c.created_at)))


def expire_silence(conn: Connection, project: str, silence_id: str, at: float) -> int:
    """Expire silences whose id starts with silence_id; how many were expired."""
    return int(
        conn.execute(
            update(SI)
            .where(
                SI.c.project == project,
                SI.c.id.startswith(silence_id, autoescape=True),
                SI.c.expired_at.is_(None),
            )
            .values(expired_at=at)
        ).rowcount
    )


L = schema.leases


def take_lease(
    conn: Connection, name: str, owner: str, now: float, ttl: float, every: float = 0.0
) -> bool:
    """Take the named lease for ttl seconds when it is free (or ours) and the work is due
    (``every`` seconds after it was last done). True when this owner holds it now."""
    row = conn.execute(select(L).where(L.c.name == name)).first()
    if row is None:
        try:
            with conn.begin_nested():
                conn.execute(
                    insert(L).values(name=name, owner=owner, expires_at=now + ttl, last_done=None)
                )
            return True
        except Exception:  # another process inserted it first: it holds the lease
            return False
    free = or_(L.c.owner == owner, L.c.expires_at.is_(None), L.c.expires_at < now)
    due = or_(L.c.last_done.is_(None), L.c.last_done + every <= now)
    taken = conn.execute(
        update(L).where(L.c.name == name, free, due).values(owner=owner, expires_at=now + ttl)
    ).rowcount
    return bool(taken)


def finish_lease(conn: Connection, name: str, owner: str, now: float) -> None:
    """Release the lease and record when the work was done."""
    conn.execute(
        update(L)
        .where(L.c.name == name, L.c.owner == owner)
        .values(owner=None, expires_at=None, last_done=now)
    )
