"""The audit trail covers every row a user reads, can be keyed, and can be anchored outside.

Three defences on top of the hash chain of :mod:`opsbook.store.events`:

* **Rows checked against events.** ``runs``, ``show``, ``releases`` and ``resume`` trust rows of
  runs, attempts, approvals and steps. Each is compared with the events that created it: the
  run's operator, runbook, environment and params (by digest) with ``run_created``; its final
  status with ``run_finished``; an approval with its ``gate_approved``/``gate_rejected`` event;
  an attempt's status, exit code and output (by digest) with the event that ended it; a step's
  outputs with its ``step_succeeded``. A row without its event, an edited row and a run whose
  rows were deleted are each named.
* **A key.** With ``OPSBOOK_AUDIT_KEY`` set (never stored), every event also carries
  ``mac = HMAC-SHA256(key, hash)`` (:func:`opsbook.store.events.mac`). Rewriting events and
  recomputing every hash no longer verifies: the MACs cannot be recomputed without the key.
* **Anchors.** ``opsbook audit anchor FILE`` appends the chain head (sequence number, hash, MAC)
  to an append-only file kept outside the database (commit it, ship it to a log drain);
  ``verify-log --anchor FILE`` checks that every anchored event is still there, unchanged. A
  truncated tail or a rebuilt chain is caught.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from opsbook.errors import UsageError
from opsbook.store import events, schema

FINISHED_EVENTS = {
    "step_succeeded": "succeeded",
    "step_failed": "failed",
    "step_attempt_failed": "failed",
    "gate_waiting": "waiting",
    "step_paused": "waiting",
}


def digest(value: Any) -> str:
    """The digest an event carries of a row's value (text as is, data as canonical JSON)."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def attempt_seal(attempt: int, output: str) -> dict[str, Any]:
    """What an attempt's end event says about the attempt row (rollback attempts)."""
    return {"attempt": attempt, "output_sha256": digest(output)}


@dataclass
class _RunFacts:
    created: dict[str, Any] | None = None
    finished: str | None = None
    approvals: list[dict[str, Any]] = field(default_factory=list)
    attempts: dict[tuple[str, str, int], dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: int = 0


def _facts(conn: Connection) -> dict[str, _RunFacts]:
    """What the events say about each run."""
    facts: dict[str, _RunFacts] = defaultdict(_RunFacts)
    query = (
        select(schema.events.c.run_id, schema.events.c.step_id, schema.events.c.type)
        .add_columns(schema.events.c.actor, schema.events.c.data)
        .where(schema.events.c.run_id.is_not(None))
        .order_by(schema.events.c.seq)
        .execution_options(yield_per=1000)
    )
    for row in conn.execute(query):
        run = facts[row.run_id]
        run.events += 1
        try:
            data = json.loads(row.data)
        except ValueError:
            continue  # the chain check names the edited event
        if not isinstance(data, dict):
            continue
        if row.type == "run_created":
            run.created = {**data, "actor": row.actor}
        elif row.type == "run_finished":
            run.finished = str(data.get("status"))
        elif row.type in ("gate_approved", "gate_rejected"):
            run.approvals.append(
                {**data, "step": row.step_id, "actor": row.actor, "decision": row.type[5:]}
            )
        elif row.type in FINISHED_EVENTS and "attempt" in data:
            run.attempts[(row.step_id, "execute", int(data["attempt"]))] = {
                **data,
                "status": FINISHED_EVENTS[row.type],
            }
            if row.type == "step_succeeded":
                run.outputs[row.step_id] = data.get("outputs") or {}
        elif row.type in ("step_rolled_back", "step_rollback_failed") and "attempt" in data:
            status = "succeeded" if row.type == "step_rolled_back" else "failed"
            run.attempts[(row.step_id, "rollback", int(data["attempt"]))] = {
                **data,
                "status": status,
            }
    return facts


def check_rows(conn: Connection) -> list[str]:
    """Rows of runs, approvals, attempts and steps that do not match the events behind them."""
    facts = _facts(conn)
    problems: list[str] = []
    run_ids: set[str] = set()
    for run in conn.execute(select(schema.runs).order_by(schema.runs.c.created_at)):
        run_ids.add(run.id)
        problems += _run_problems(run, facts.get(run.id))
    for run_id, fact in facts.items():
        if run_id not in run_ids and fact.created is not None:
            problems.append(
                f"run {run_id}: its row was deleted ({fact.events} events remain in the log)"
            )
    for row in conn.execute(select(schema.approvals).order_by(schema.approvals.c.id)):
        problems += _approval_problems(row, facts.get(row.run_id))
    for row in conn.execute(select(schema.attempts).order_by(schema.attempts.c.id)):
        problems += _attempt_problems(row, facts.get(row.run_id))
    for row in conn.execute(select(schema.steps)):
        said = facts[row.run_id].outputs if row.run_id in facts else {}
        if row.status != "succeeded" or row.step_id not in said:
            continue
        if (row.outputs or {}) != said[row.step_id]:
            problems.append(
                f"run {row.run_id} step {row.step_id}: outputs differ from its step_succeeded"
                " event (edited)"
            )
    return problems


def _run_problems(run: Any, fact: _RunFacts | None) -> list[str]:
    if fact is None or fact.created is None:
        return [f"run {run.id}: no run_created event (the row was inserted by hand?)"]
    created = fact.created
    problems = []
    expected = {
        "operator": created["actor"],
        "runbook": created.get("runbook"),
        "environment": created.get("environment"),
    }
    for column, value in expected.items():
        if value is not None and getattr(run, column) != value:
            problems.append(
                f"run {run.id}: {column} {getattr(run, column)!r} differs from its run_created"
                f" event ({value!r}; edited)"
            )
    if "params_sha256" in created and digest(dict(run.params or {})) != created["params_sha256"]:
        problems.append(f"run {run.id}: params differ from its run_created event (edited)")
    if fact.finished is not None and run.status != fact.finished:
        problems.append(
            f"run {run.id}: status {run.status!r} differs from its run_finished event"
            f" ({fact.finished!r}; edited)"
        )
    if fact.finished is None and run.status in ("succeeded", "failed", "rolled_back", "aborted"):
        problems.append(f"run {run.id}: status {run.status!r} but it has no run_finished event")
    return problems


def approval_matches(row: Any, event: dict[str, Any]) -> bool:
    """Whether an approval row says what its event says."""
    return bool(
        event["step"] == row.step_id
        and event["decision"] == row.decision
        and event["actor"] == row.operator
        and (event.get("note") or "") == (row.note or "")
        and event.get("signature") == (row.signature or None)
        and event.get("via") == (row.via or None)
    )


def _approval_problems(row: Any, fact: _RunFacts | None) -> list[str]:
    events = fact.approvals if fact is not None else []
    if any(approval_matches(row, event) for event in events):
        return []
    return [
        f"approval {row.id} (run {row.run_id}, gate {row.step_id}, {row.decision} by"
        f" {row.operator!r}): no matching gate_{row.decision} event (forged or edited)"
    ]


def _attempt_problems(row: Any, fact: _RunFacts | None) -> list[str]:
    if row.finished_at is None:
        return []
    event = (fact.attempts if fact else {}).get((row.step_id, row.phase, row.attempt))
    where = f"run {row.run_id} step {row.step_id} {row.phase} attempt {row.attempt}"
    if event is None:
        return [f"{where}: no event recorded its end (inserted or edited by hand?)"]
    problems = []
    if "status" in event and event["status"] != row.status:
        problems.append(f"{where}: status {row.status!r} differs from its event (edited)")
    if "exit_code" in event and event["exit_code"] != row.exit_code:
        problems.append(f"{where}: exit code differs from its event (edited)")
    if "output_sha256" in event and digest(row.output or "") != event["output_sha256"]:
        problems.append(f"{where}: output differs from its event's digest (edited)")
    return problems


def approval_is_recorded(conn: Connection, row: Any) -> bool:
    """Whether an approval row has an intact event saying the same (``resume`` trusts no other).

    The event must hash correctly and, with a key, carry a valid MAC.
    """
    key = events.audit_key()
    query = select(schema.events).where(
        schema.events.c.run_id == row.run_id,
        schema.events.c.step_id == row.step_id,
        schema.events.c.type == f"gate_{row.decision}",
    )
    for event in conn.execute(query):
        expected = events.event_hash(
            event.prev_hash,
            event.seq,
            event.run_id,
            event.step_id,
            event.type,
            event.at,
            event.actor,
            event.data,
        )
        if expected != event.hash:
            continue
        if key is not None and event.mac != events.mac(key, event.hash):
            continue
        data = json.loads(event.data)
        fact = {**data, "step": event.step_id, "actor": event.actor, "decision": row.decision}
        if approval_matches(row, fact):
            return True
    return False


def refused(row: Any) -> str:
    return (
        f"the {row.decision} answer to gate {row.step_id} by {row.operator!r} has no valid event"
        " in the audit log (written into the store by hand?); it is ignored and the gate waits."
        f" Check with `opsbook verify-log`, then delete it and answer with `opsbook approve`"
    )


# ----- anchors -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Anchor:
    seq: int
    hash: str
    mac: str | None
    line: int


def read_anchors(path: Path) -> list[Anchor]:
    """The anchors of an anchor file (``seq hash [mac] at`` per line)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as err:
        raise UsageError(f"cannot read anchor file {path}: {err.strerror}") from None
    anchors = []
    for number, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        if len(parts) < 3 or not parts[0].isdigit():
            raise UsageError(
                f"{path}:{number}: not an anchor line ('SEQ HASH MAC TIME')",
                hint="anchor files are written by `opsbook audit anchor`; restore it from git",
            )
        anchors.append(
            Anchor(int(parts[0]), parts[1], None if parts[2] == "-" else parts[2], number)
        )
    return anchors


def check_anchors(conn: Connection, path: Path) -> list[str]:
    """Anchored events that are missing or changed."""
    problems = []
    head = conn.execute(select(schema.chain.c.head_seq)).scalar() or 0
    for anchor in read_anchors(path):
        row = conn.execute(
            select(schema.events.c.hash, schema.events.c.mac).where(
                schema.events.c.seq == anchor.seq
            )
        ).first()
        where = f"{path.name}:{anchor.line}"
        if row is None:
            problems.append(
                f"{where}: anchored event {anchor.seq} is gone; the log ends at {head}"
                " (truncated or rebuilt)"
            )
        elif row.hash != anchor.hash:
            problems.append(
                f"{where}: event {anchor.seq} has hash {row.hash[:12]}… but the anchor says"
                f" {anchor.hash[:12]}… (the chain was rewritten)"
            )
        elif anchor.mac is not None and row.mac != anchor.mac:
            problems.append(f"{where}: event {anchor.seq}'s MAC differs from the anchor")
    return problems


def write_anchor(conn: Connection, path: Path) -> Anchor:
    """Append the chain head to the anchor file; returns it."""
    head = conn.execute(select(schema.chain.c.head_seq, schema.chain.c.head_hash)).first()
    if head is None:
        raise UsageError(
            "the event chain's head row is missing; nothing to anchor",
            hint="run `opsbook verify-log` and restore the store from a backup",
        )
    event_mac = conn.execute(
        select(schema.events.c.mac).where(schema.events.c.seq == head.head_seq)
    ).scalar()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    line = f"{head.head_seq} {head.head_hash} {event_mac or '-'} {stamp}\n"
    try:
        with path.open("a", encoding="utf-8") as out:
            out.write(line)
    except OSError as err:
        raise UsageError(
            f"cannot append to anchor file {path}: {err.strerror}",
            hint="give a writable path (keep it outside the store's folder, e.g. in git)",
        ) from None
    return Anchor(head.head_seq, head.head_hash, event_mac, 0)
