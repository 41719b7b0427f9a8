"""Reading the event log as a feed: what ``serve`` streams (SSE) and shows as the audit log."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, select

from opsbook.store import schema

E = schema.events


def _dicts(conn: Connection, query: Any) -> list[dict[str, Any]]:
    return [
        {
            **{k: v for k, v in row.items() if k not in ("data", "prev_hash")},
            "data": json.loads(row["data"]),
        }
        for row in conn.execute(query).mappings()
    ]


def events_after(
    conn: Connection, seq: int, *, run_id: str | None = None, limit: int = 500
) -> list[dict[str, Any]]:
    """Events with a sequence number above ``seq``, oldest first (of one run, or of all)."""
    query = select(E).where(E.c.seq > seq).order_by(E.c.seq).limit(limit)
    if run_id is not None:
        query = query.where(E.c.run_id == run_id)
    return _dicts(conn, query)


def recent_events(
    conn: Connection, *, limit: int = 100, before: int | None = None, type_prefix: str = ""
) -> list[dict[str, Any]]:
    """The newest events, newest first (the audit log page)."""
    query = select(E).order_by(E.c.seq.desc()).limit(limit)
    if before is not None:
        query = query.where(E.c.seq < before)
    if type_prefix:
        query = query.where(E.c.type.startswith(type_prefix))
    return _dicts(conn, query)


def head_seq(conn: Connection) -> int:
    return int(conn.execute(select(schema.chain.c.head_seq)).scalar_one())


def run_page(conn: Connection, run_id: str) -> dict[str, Any]:
    """What the run page shows, without the event log: the run, its steps in order, each step's
    latest output and the approvals (``audit.run_detail`` reads every event too)."""
    from opsbook.store.audit import resolve_run_id

    full = resolve_run_id(conn, run_id)
    runs, steps, attempts, approvals = (
        schema.runs,
        schema.steps,
        schema.attempts,
        schema.approvals,
    )
    run = dict(conn.execute(select(runs).where(runs.c.id == full)).one()._mapping)
    step_rows = conn.execute(
        select(steps)
        .where(steps.c.run_id == full)
        .order_by(steps.c.started_at.is_(None), steps.c.started_at, steps.c.step_id)
    ).mappings()
    latest = (
        select(attempts.c.step_id, attempts.c.output)
        .where(attempts.c.run_id == full, attempts.c.phase == "execute")
        .order_by(attempts.c.id)
    )
    outputs = {r.step_id: r.output for r in conn.execute(latest) if r.output}
    decided = conn.execute(
        select(approvals).where(approvals.c.run_id == full).order_by(approvals.c.id)
    ).mappings()
    run["lease"] = {"owner": run.pop("lease_owner"), "expires_at": run.pop("lease_expires_at")}
    return {
        "run": run,
        "steps": [dict(s) for s in step_rows],
        "outputs": outputs,
        "approvals": [dict(a) for a in decided],
    }
