"""The append-only, hash-chained event log: every state change of every run.

Each event's hash is ``sha256(prev_hash + canonical JSON of the event)``. The chain is global:
the head lives in ``opsbook_chain`` and is updated in the same transaction as the insert, so
concurrent writers serialise on that row and the chain never forks. :func:`verify` recomputes
the chain and reports the first event that does not match.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from opsbook.errors import StoreError
from opsbook.store import driver, schema
from opsbook.store.migrations import GENESIS_HASH

KEY_ENV = "OPSBOOK_AUDIT_KEY"


def audit_key() -> bytes | None:
    """The audit key from the environment, or None."""
    value = os.environ.get(KEY_ENV, "")
    return value.encode() if value else None


def mac(key: bytes, digest: str) -> str:
    return hmac.new(key, digest.encode(), hashlib.sha256).hexdigest()


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_hash(
    prev_hash: str,
    seq: int,
    run_id: str | None,
    step_id: str | None,
    type_: str,
    at: float,
    actor: str,
    data: str,
) -> str:
    body = canonical(
        {
            "seq": seq,
            "run": run_id,
            "step": step_id,
            "type": type_,
            "at": repr(at),
            "actor": actor,
            "data": data,
        }
    )
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


@dataclass
class NewEvent:
    """An event to append; ``data`` must have its secrets masked already."""

    type: str
    actor: str
    run_id: str | None = None
    step_id: str | None = None
    data: dict[str, Any] | None = None
    at: float | None = None


def append(
    conn: Connection,
    type_: str,
    *,
    run_id: str | None = None,
    step_id: str | None = None,
    actor: str,
    data: dict[str, Any] | None = None,
    at: float | None = None,
) -> int:
    """Append one event inside the caller's transaction; returns its sequence number.

    The caller must have masked secrets in ``data`` already.
    """
    return append_many(conn, [NewEvent(type_, actor, run_id, step_id, data, at)])


def append_many(conn: Connection, new: Sequence[NewEvent]) -> int:
    """Append events in order inside the caller's transaction; the last sequence number.

    One read and one move of the chain head for all of them: the engine appends the end of one
    step and the start of the next in one transaction.
    """
    # Taking the head row for update serialises appenders (a row lock on PostgreSQL; SQLite's
    # BEGIN IMMEDIATE already serialises writers).
    head = driver.fetch_one(conn, _HEAD[conn.dialect.name == "postgresql"], {})
    if head is None:
        raise StoreError(
            "the event chain's head row is missing (deleted by hand?)",
            hint="restore the store from a backup; `opsbook verify-log` says what else changed",
        )
    seq, prev = int(head[0]), str(head[1])
    key = audit_key()
    rows = []
    for event in new:
        seq += 1
        when = time.time() if event.at is None else event.at
        payload = canonical(event.data or {})
        digest = event_hash(
            prev, seq, event.run_id, event.step_id, event.type, when, event.actor, payload
        )
        rows.append(
            {
                "seq": seq,
                "run_id": event.run_id,
                "step_id": event.step_id,
                "type": event.type,
                "at": when,
                "actor": event.actor,
                "data": payload,
                "prev_hash": prev,
                "hash": digest,
                "mac": mac(key, digest) if key else None,
            }
        )
        prev = digest
    if rows:
        driver.execute(conn, _INSERT, rows if len(rows) > 1 else rows[0])
        driver.execute(conn, _MOVE_HEAD, {"head_seq": seq, "head_hash": prev})
    return seq


# Plain SQL run on the driver's cursor (opsbook.store.driver): the engine appends events at
# every step boundary, where SQLAlchemy's statement layer cost more than SQLite's work.
_HEAD = (
    f"SELECT head_seq, head_hash FROM {schema.chain.name} WHERE id = 1",
    f"SELECT head_seq, head_hash FROM {schema.chain.name} WHERE id = 1 FOR UPDATE",
)
_INSERT = driver.insert_sql(
    schema.events,
    ("seq", "run_id", "step_id", "type", "at", "actor", "data", "prev_hash", "hash", "mac"),
)
_MOVE_HEAD = (
    f"UPDATE {schema.chain.name} SET head_seq = :head_seq, head_hash = :head_hash WHERE id = 1"
)


@dataclass
class ChainReport:
    """The result of recomputing the chain."""

    checked: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(conn: Connection, key: bytes | None = None) -> ChainReport:
    """Recompute every hash; report edited, deleted, inserted or reordered events.

    With the audit key, every event from the first one that carries a MAC on must carry a valid
    one, and at least one must: a chain rebuilt without the key fails.
    """
    problems: list[str] = []
    macs = 0
    prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    for row in _rows(conn):
        checked += 1
        if row.seq != expected_seq:
            problems.append(f"event {expected_seq} to {row.seq - 1} missing (deleted?)")
        if row.prev_hash != prev:
            problems.append(f"event {row.seq}: prev_hash does not match event before it")
        digest = event_hash(
            row.prev_hash, row.seq, row.run_id, row.step_id, row.type, row.at, row.actor, row.data
        )
        if digest != row.hash:
            problems.append(
                f"event {row.seq} ({row.type}, run {row.run_id}): content does not match its hash"
                " (edited after it was written)"
            )
        if key is not None:
            if row.mac is not None and row.mac == mac(key, row.hash):
                macs += 1
            elif row.mac is not None or macs:
                problems.append(
                    f"event {row.seq} ({row.type}, run {row.run_id}): its MAC does not match"
                    " (rewritten without the audit key)"
                )
        prev = row.hash
        expected_seq = row.seq + 1
    head = conn.execute(select(schema.chain.c.head_seq, schema.chain.c.head_hash)).first()
    if head is None:
        problems.append("the chain head row is missing (deleted by hand)")
    elif head.head_seq != expected_seq - 1 or head.head_hash != prev:
        problems.append(
            f"chain head says event {head.head_seq} but the log ends at {expected_seq - 1}"
            " (events deleted from the end?)"
        )
    if key is not None and checked and not macs:
        problems.append(
            "no event carries a valid MAC for OPSBOOK_AUDIT_KEY: the log was written without"
            " the key, or rebuilt by someone who does not have it"
        )
    return ChainReport(checked, problems)


def _rows(conn: Connection) -> Iterator[Any]:
    # Statement-level option: Connection.execution_options would change the caller's connection.
    yield from conn.execute(
        select(schema.events).order_by(schema.events.c.seq).execution_options(yield_per=1000)
    )


def step_events(conn: Connection, run_id: str, step_id: str, type_: str) -> list[dict[str, Any]]:
    """The data of one step's events of one type, oldest first (a kind's recorded progress)."""
    E = schema.events
    query = (
        select(E.c.data)
        .where(E.c.run_id == run_id, E.c.step_id == step_id, E.c.type == type_)
        .order_by(E.c.seq)
    )
    return [json.loads(row.data) for row in conn.execute(query)]
