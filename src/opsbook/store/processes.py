"""Where an attempt's processes ran (process group, host, boot id), for killing leftovers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from opsbook.store import schema

A = schema.attempts


def last_attempt(conn: Connection, run_id: str, step_id: str) -> Any:
    """The newest execute attempt of a step (with pgid, host, boot_id), or None."""
    return conn.execute(
        select(A.c.step_id, A.c.attempt, A.c.pgid, A.c.host, A.c.boot_id)
        .where(A.c.run_id == run_id, A.c.step_id == step_id, A.c.phase == "execute")
        .order_by(A.c.attempt.desc())
        .limit(1)
    ).first()
