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
