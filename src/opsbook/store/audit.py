"""Read-only queries behind ``opsbook runs``, ``show``, ``releases`` and ``verify-log``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, select

from opsbook.errors import RunNotFound
from opsbook.store import events, integrity, schema


@dataclass
class RunSummary:
    """One row of ``opsbook runs``."""

    id: str
    project: str
    runbook: str
    environment: str
    status: str
    operator: str
    params: dict[str, Any]
    git_sha: str | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    error: str | None
    lease_owner: str | None = None
    lease_expires_at: float | None = None
    """Who executes the run and until when (a run nobody executes can be resumed)."""

    @property
    def duration(self) -> float | None:
        if self.started_at is None:
            return None
        return (self.finished_at or self.started_at) - self.started_at


@dataclass
class Release(RunSummary):
    """One line of the release log (seed 001): a run plus who approved what."""

    approvals: list[dict[str, Any]] = field(default_factory=list)
    spec_text: str = field(default="", repr=False)


def _summary(row: Any) -> RunSummary:
    return RunSummary(
        id=row.id,
        project=row.project,
        runbook=row.runbook,
        environment=row.environment,
        status=row.status,
        operator=row.operator,
        params=dict(row.params or {}),
        git_sha=row.git_sha,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        error=row.error,
        lease_owner=row.lease_owner,
        lease_expires_at=row.lease_expires_at,
    )


def list_runs(
    conn: Connection,
    *,
    environment: str | None = None,
    runbook: str | None = None,
    status: str | None = None,
    limit: int = 50,
) -> list[RunSummary]:
    """Newest first."""
    query = select(schema.runs).order_by(schema.runs.c.created_at.desc()).limit(limit)
    if environment:
        query = query.where(schema.runs.c.environment == environment)
    if runbook:
        query = query.where(schema.runs.c.runbook == runbook)
    if status:
        query = query.where(schema.runs.c.status == status)
    return [_summary(row) for row in conn.execute(query)]


def resolve_run_id(conn: Connection, run_id: str) -> str:
    """A full run id from a unique prefix (like git's short SHAs)."""
    exact = conn.execute(select(schema.runs.c.id).where(schema.runs.c.id == run_id)).scalar()
    if exact:
        return str(exact)
    if run_id == "last":
        last = conn.execute(
            select(schema.runs.c.id).order_by(schema.runs.c.created_at.desc()).limit(1)
        ).scalar()
        if last:
            return str(last)
    matches = (
        conn.execute(select(schema.runs.c.id).where(schema.runs.c.id.startswith(run_id)).limit(3))
        .scalars()
        .all()
    )
    if len(matches) == 1:
        return str(matches[0])
    if len(matches) > 1:
        raise RunNotFound(
            f"run id prefix '{run_id}' is ambiguous ({', '.join(matches)}, ...)",
            hint="give more characters",
        )
    raise RunNotFound(f"no run '{run_id}'", hint="list runs with `opsbook runs`")


def _of_run(conn: Connection, table: Table, run_id: str, *order: Any) -> list[dict[str, Any]]:
    """Every row of ``table`` that belongs to one run, as dicts, in ``order``."""
    query = select(table).where(table.c.run_id == run_id).order_by(*order)
    return [dict(row) for row in conn.execute(query).mappings()]


def run_detail(conn: Connection, run_id: str) -> dict[str, Any]:
    """Everything recorded about a run: steps, attempts, outputs, approvals, events."""
    full = resolve_run_id(conn, run_id)
    run = conn.execute(select(schema.runs).where(schema.runs.c.id == full)).one()
    steps = _of_run(
        conn,
        schema.steps,
        full,
        # in the order they ran; steps that never started (skipped, pending) last
        schema.steps.c.started_at.is_(None),
        schema.steps.c.started_at,
        schema.steps.c.step_id,
    )
    attempts = _of_run(conn, schema.attempts, full, schema.attempts.c.id)
    approvals = _of_run(conn, schema.approvals, full, schema.approvals.c.id)
    log = _of_run(conn, schema.events, full, schema.events.c.seq)
    run_map = dict(run._mapping)
    for private in ("spec_text", "lease_owner", "lease_expires_at", "lock_key"):
        run_map.pop(private, None)
    run_map["lease"] = {"owner": run.lease_owner, "expires_at": run.lease_expires_at}
    return {
        "run": run_map,
        "steps": [dict(s) for s in steps],
        "attempts": [dict(a) for a in attempts],
        "approvals": [dict(a) for a in approvals],
        "events": [
            {**{k: v for k, v in e.items() if k != "data"}, "data": json.loads(e["data"])}
            for e in log
        ],
    }


def releases(
    conn: Connection, *, environment: str | None = None, limit: int = 50, offset: int = 0
) -> list[Release]:
    """Runs with their approvals and the spec text they ran, newest first.

    Which of them are releases (runbooks that change things) is decided from the spec text by
    :func:`opsbook.history.release_log`; the store does not parse YAML.
    """
    query = (
        select(schema.runs)
        .order_by(schema.runs.c.created_at.desc(), schema.runs.c.id)
        .limit(limit)
        .offset(offset)
    )
    if environment:
        query = query.where(schema.runs.c.environment == environment)
    rows = conn.execute(query).all()
    # All their approvals in one query, not one query per run.
    by_run: dict[str, list[dict[str, Any]]] = {row.id: [] for row in rows}
    approvals = conn.execute(
        select(
            schema.approvals.c.run_id,
            schema.approvals.c.step_id,
            schema.approvals.c.decision,
            schema.approvals.c.operator,
            schema.approvals.c.created_at,
            schema.approvals.c.note,
            schema.approvals.c.via,
        )
        .where(schema.approvals.c.run_id.in_(list(by_run)))
        .order_by(schema.approvals.c.id)
    ).mappings()
    for approval in approvals:
        by_run[approval["run_id"]].append({k: v for k, v in approval.items() if k != "run_id"})
    return [
        Release(**vars(_summary(row)), approvals=by_run[row.id], spec_text=row.spec_text)
        for row in rows
    ]


def verify_log(conn: Connection, anchor: Path | None = None) -> events.ChainReport:
    """The chain (keyed with OPSBOOK_AUDIT_KEY when set), every row against its events, and the
    anchors of ``anchor``; when all hold, the current head is appended to ``anchor``."""
    report = events.verify(conn, events.audit_key())
    report.problems += integrity.check_rows(conn)
    if anchor is not None:
        report.problems += integrity.check_anchors(conn, anchor)
        if report.ok:
            integrity.write_anchor(conn, anchor)
    return report


def signed_answers(conn: Connection) -> list[tuple[Any, Any]]:
    """(run, approval) for every approval made in an environment with approvers (or signed)."""
    rows = conn.execute(
        select(schema.approvals)
        .where(schema.approvals.c.via == "ssh")
        .order_by(schema.approvals.c.id)
    ).all()
    runs = {
        r.id: r
        for r in conn.execute(
            select(schema.runs).where(schema.runs.c.id.in_({row.run_id for row in rows}))
        )
    }
    return [(runs[row.run_id], row) for row in rows if row.run_id in runs]


def write_anchor(conn: Connection, anchor: Path) -> integrity.Anchor:
    """Append the chain head to ``anchor`` (``opsbook audit anchor``)."""
    return integrity.write_anchor(conn, anchor)
