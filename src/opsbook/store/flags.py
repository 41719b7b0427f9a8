"""Queries of feature-flag state: read a project's flags, write a change with its chain event.

A change is one transaction: it takes the event chain's head first (a row lock on PostgreSQL,
``BEGIN IMMEDIATE`` on SQLite), so concurrent changes of one flag are serialised and each sees
the state the previous one left; then it writes the state row, the ``flag_changed`` event and a
change row that ``flag history`` reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update

from opsbook.errors import StoreError
from opsbook.store import driver, events, schema

F = schema.flag_states
C = schema.flag_changes


@dataclass(frozen=True)
class StateRow:
    key: str
    enabled: bool
    percent: int
    overrides: dict[str, Any]
    updated_at: float
    updated_by: str
    reason: str


@dataclass(frozen=True)
class ChangeRow:
    """One recorded change of a flag (what ``flag history`` lists)."""

    id: int
    key: str
    at: float
    actor: str
    reason: str
    before: dict[str, Any]
    after: dict[str, Any]
    run_id: str | None
    step_id: str | None
    event_seq: int

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self))


_ONE = (
    f"SELECT key, enabled, percent, overrides, updated_at, updated_by, reason FROM {F.name}"
    " WHERE project = :project AND key = :key"
)
_LOCK_HEAD = f"SELECT head_seq FROM {schema.chain.name} WHERE id = 1 FOR UPDATE"


def _state(row: Any) -> StateRow:
    overrides = row[3]
    if isinstance(overrides, str):  # read on the driver's cursor: JSON comes back as text
        overrides = json.loads(overrides)
    return StateRow(
        row[0], bool(row[1]), int(row[2]), dict(overrides or {}), row[4], row[5], row[6]
    )


def get_state(conn: Connection, project: str, key: str) -> StateRow | None:
    """One flag's stored state (on the driver's cursor: OFREP reads it on every evaluation)."""
    row = driver.fetch_one(conn, _ONE, {"project": project, "key": key})
    return None if row is None else _state(row)


def get_states(conn: Connection, project: str) -> dict[str, StateRow]:
    """Every stored flag state of a project, by key."""
    query = select(
        F.c.key, F.c.enabled, F.c.percent, F.c.overrides, F.c.updated_at, F.c.updated_by, F.c.reason
    ).where(F.c.project == project)
    return {row[0]: _state(row) for row in conn.execute(query)}


def lock_for_change(conn: Connection) -> None:
    """Serialise flag changes (and every chain append) until this transaction ends."""
    if conn.dialect.name == "postgresql":
        driver.fetch_one(conn, _LOCK_HEAD, {})


def write_change(
    conn: Connection,
    project: str,
    key: str,
    *,
    before: dict[str, Any],
    after: dict[str, Any],
    actor: str,
    reason: str,
    at: float,
    run_id: str | None = None,
    step_id: str | None = None,
) -> ChangeRow:
    """Store ``after`` as the flag's state and record the change (also as a chain event)."""
    values = {
        "enabled": int(bool(after["enabled"])),
        "percent": int(after["percent"]),
        "overrides": after.get("overrides") or {},
        "updated_at": at,
        "updated_by": actor,
        "reason": reason,
    }
    done = conn.execute(
        update(F).where(F.c.project == project, F.c.key == key).values(**values)
    ).rowcount
    if not done:
        conn.execute(insert(F).values(project=project, key=key, **values))
    seq = events.append(
        conn,
        "flag_changed",
        run_id=run_id,
        step_id=step_id,
        actor=actor,
        at=at,
        data={"project": project, "flag": key, "before": before, "after": after, "reason": reason},
    )
    row = ChangeRow(0, key, at, actor, reason, before, after, run_id, step_id, seq)
    values = {k: v for k, v in vars(row).items() if k != "id"}
    inserted = conn.execute(insert(C).values(project=project, **values)).inserted_primary_key
    new_id = inserted[0] if inserted else 0
    return ChangeRow(int(new_id), key, at, actor, reason, before, after, run_id, step_id, seq)


def get_changes(conn: Connection, project: str, key: str, limit: int) -> list[ChangeRow]:
    """A flag's changes, newest first."""
    query = (
        select(C).where(C.c.project == project, C.c.key == key).order_by(C.c.id.desc()).limit(limit)
    )
    fields = [f for f in ChangeRow.__dataclass_fields__]
    return [ChangeRow(**{f: getattr(r, f) for f in fields}) for r in conn.execute(query)]


class StateReader:
    """One connection kept open to read flag states on every evaluation (OFREP).

    Each read is its own autocommit statement, so it sees every change committed before it (a
    kill is effective at the next evaluation) without taking SQLite's write lock as
    :meth:`Store.begin` does.
    """

    def __init__(self, engine: Any) -> None:
        self._errors = engine.dialect.loaded_dbapi.Error
        self._raw = engine.raw_connection()
        if engine.dialect.name == "postgresql":
            self._raw.driver_connection.autocommit = True
            self._sql = _ONE.replace(":project", "%(project)s").replace(":key", "%(key)s")
        else:
            self._sql = _ONE

    def get(self, project: str, key: str) -> StateRow | None:
        try:
            cursor = self._raw.cursor()
            try:
                cursor.execute(self._sql, {"project": project, "key": key})
                row = cursor.fetchone()
            finally:
                cursor.close()
        except self._errors as err:
            reason = " ".join(str(err).split())
            raise StoreError(f"cannot read flag states: {reason}") from None
        return None if row is None else _state(row)

    def close(self) -> None:
        self._raw.close()
