"""Queries of incidents, pages, schedule claims and handoffs, and the change log they read.

Exactly-once work across processes is a unique key, not a lock: a page is a row keyed by
(incident, level, person), a scheduled run by (project, schedule, due time). The process whose
``INSERT ... ON CONFLICT DO NOTHING`` inserts the row does the work; the others see 0 rows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, Table, and_, func, inspect, or_, select, update
from sqlalchemy.exc import IntegrityError

from opsbook.store import schema

I = schema.incidents  # noqa: E741
P = schema.incident_pages
C = schema.schedule_claims
H = schema.handoffs
E = schema.events


def _insert_once(conn: Connection, table: Table, row: dict[str, Any]) -> bool:
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(**row).on_conflict_do_nothing()
    # RETURNING says whether this statement inserted; rowcount is -1 on some driver paths.
    keys = list(table.primary_key.columns)
    return conn.execute(statement.returning(*keys)).first() is not None


def next_number(conn: Connection, project: str) -> int:
    current = conn.execute(select(func.max(I.c.number)).where(I.c.project == project)).scalar()
    return int(current or 0) + 1


def insert_incident(conn: Connection, row: dict[str, Any]) -> bool:
    """False when another open incident holds the same alert group (or number)."""
    try:
        with conn.begin_nested():
            conn.execute(I.insert().values(**row))
    except IntegrityError:
        return False
    return True


def open_for_group(conn: Connection, project: str, group_key: str) -> Row[Any] | None:
    return conn.execute(
        select(I).where(and_(I.c.project == project, I.c.open_key == group_key))
    ).first()


def get_by_number(conn: Connection, project: str, number: int) -> Row[Any] | None:
    return conn.execute(select(I).where(and_(I.c.project == project, I.c.number == number))).first()


def list_incidents(
    conn: Connection, project: str, *, statuses: Sequence[str] | None = None, limit: int = 100
) -> list[Row[Any]]:
    query = select(I).where(I.c.project == project).order_by(I.c.number.desc()).limit(limit)
    if statuses is not None:
        query = query.where(I.c.status.in_(list(statuses)))
    return list(conn.execute(query))


def set_incident(
    conn: Connection, incident_id: str, *, expect: Sequence[str], **values: Any
) -> bool:
    """Update an incident only if it is in one of the ``expect`` states (a race fails loudly)."""
    result = conn.execute(
        update(I).where(and_(I.c.id == incident_id, I.c.status.in_(list(expect)))).values(**values)
    )
    return bool(result.rowcount)


def mark_breached(conn: Connection, incident_id: str, at: float) -> bool:
    """Record the SLA breach once; False when another process already did."""
    result = conn.execute(
        update(I)
        .where(and_(I.c.id == incident_id, I.c.breached_at.is_(None)))
        .values(breached_at=at)
    )
    return bool(result.rowcount)


def claim_page(conn: Connection, row: dict[str, Any]) -> bool:
    return _insert_once(conn, P, row)


def pages(conn: Connection, incident_id: str) -> list[Row[Any]]:
    return list(conn.execute(select(P).where(P.c.incident_id == incident_id).order_by(P.c.id)))


def claim_schedule(conn: Connection, row: dict[str, Any]) -> bool:
    return _insert_once(conn, C, row)


def set_claim(conn: Connection, project: str, schedule: str, due_at: float, **values: Any) -> None:
    conn.execute(
        update(C)
        .where(and_(C.c.project == project, C.c.schedule == schedule, C.c.due_at == due_at))
        .values(**values)
    )


def last_claims(conn: Connection, project: str) -> dict[str, Row[Any]]:
    """The latest claim of each schedule."""
    latest = (
        select(C.c.schedule, func.max(C.c.due_at).label("due_at"))
        .where(C.c.project == project)
        .group_by(C.c.schedule)
        .subquery()
    )
    rows = conn.execute(
        select(C)
        .join(latest, and_(C.c.schedule == latest.c.schedule, C.c.due_at == latest.c.due_at))
        .where(C.c.project == project)
    )
    return {row.schedule: row for row in rows}


def events_between(
    conn: Connection, start: float, end: float, prefixes: Sequence[str]
) -> list[dict[str, Any]]:
    """Events of the given type prefixes with ``start <= at <= end``, oldest first."""
    query = (
        select(E.c.seq, E.c.run_id, E.c.step_id, E.c.type, E.c.at, E.c.actor, E.c.data)
        .where(and_(E.c.at >= start, E.c.at <= end))
        .where(or_(*[E.c.type.startswith(p) for p in prefixes]))
        .order_by(E.c.seq)
    )
    return [
        {
            "seq": r.seq,
            "run_id": r.run_id,
            "step_id": r.step_id,
            "type": r.type,
            "at": r.at,
            "actor": r.actor,
            "data": json.loads(r.data),
        }
        for r in conn.execute(query)
    ]


def runs_between(conn: Connection, project: str, start: float, end: float) -> list[Row[Any]]:
    """Runs created in [start, end], or running across it."""
    R = schema.runs
    return list(
        conn.execute(
            select(R)
            .where(R.c.project == project)
            .where(R.c.created_at <= end)
            .where(
                or_(R.c.created_at >= start, R.c.finished_at.is_(None), R.c.finished_at >= start)
            )
            .order_by(R.c.created_at)
        )
    )


def runs_since(conn: Connection, project: str, since: float, until: float) -> list[Row[Any]]:
    R = schema.runs
    return list(
        conn.execute(
            select(R)
            .where(and_(R.c.project == project, R.c.created_at >= since, R.c.created_at <= until))
            .order_by(R.c.created_at)
        )
    )


def approvals_of(conn: Connection, run_ids: Sequence[str]) -> list[Row[Any]]:
    if not run_ids:
        return []
    AP = schema.approvals
    return list(
        conn.execute(select(AP).where(AP.c.run_id.in_(list(run_ids))).order_by(AP.c.created_at))
    )


def steps_of(conn: Connection, run_ids: Sequence[str]) -> list[Row[Any]]:
    if not run_ids:
        return []
    S = schema.steps
    return list(conn.execute(select(S).where(S.c.run_id.in_(list(run_ids)))))


def waiting_runs(conn: Connection, project: str) -> list[Row[Any]]:
    """Runs paused for a human: at a gate, or stopped in needs_attention."""
    R, S = schema.runs, schema.steps
    rows: Any = conn.execute(
        select(R.c.id, R.c.runbook, R.c.environment, R.c.status, R.c.updated_at, S.c.step_id)
        .join(S, S.c.run_id == R.c.id, isouter=True)
        .where(R.c.project == project)
        .where(R.c.status.in_(["waiting", "needs_attention"]))
        .where(or_(S.c.status.in_(["waiting", "running", "interrupted"]), S.c.status.is_(None)))
        .order_by(R.c.created_at)
    )
    return list(rows)


def last_handoff(conn: Connection, project: str) -> Row[Any] | None:
    return conn.execute(
        select(H).where(H.c.project == project).order_by(H.c.at.desc()).limit(1)
    ).first()


def insert_handoff(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(H.insert().values(**row))


def has_table(conn: Connection, name: str) -> bool:
    """Whether another part's table exists (handoff reads flags and alerts when present)."""
    return bool(inspect(conn).has_table(name))


def table_rows(conn: Connection, name: str) -> list[dict[str, Any]]:
    """Every row of an optional table by name, as mappings (for the handoff report)."""
    table = schema.metadata.tables.get(name)
    if table is None:
        return []
    return [dict(r._mapping) for r in conn.execute(select(table))]
