"""The audit trail cannot be forged (issue "Trust", attack 2): a forged approval, edited rows, a
deleted run, a truncated or rebuilt chain each make verify-log exit 1 naming what changed, and
resume refuses the forged approval. Runs on SQLite and (marker store) on PostgreSQL."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, update

from engine_support import cli, project
from opsbook.store import open_store, schema
from opsbook.store.events import event_hash
from opsbook.store.migrations import GENESIS_HASH

pytestmark = pytest.mark.store

SPEC = """\
version: 1
project: audit
environments:
  local: {}
runbooks:
  release:
    params: {version: {required: true}}
    steps:
      - {id: build, run: 'echo "sha=abc123" >> "$OPSBOOK_OUTPUT"; echo built'}
      - {id: ok, gate: Ship it?, needs: [build]}
      - {id: deploy, needs: [ok], run: echo deployed > deployed.txt}
"""

KEY = {"OPSBOOK_AUDIT_KEY": "k3y-for-tests-only"}


def _sql(store_url: str, *statements: Any) -> None:
    store = open_store(store_url)
    try:
        with store.begin() as conn:
            for statement in statements:
                conn.execute(statement)
    finally:
        store.close()


def _paused(root: Path, store_url: str, **env: str) -> str:
    done = cli(root, store_url, "run", "release", "--env", "local", "-p", "version=1", **env)
    assert done.returncode == 3, done.stdout + done.stderr
    return str(json.loads(cli(root, store_url, "runs", "--json").stdout)[0]["id"])


def _finished(root: Path, store_url: str, **env: str) -> str:
    run_id = _paused(root, store_url, **env)
    approved = cli(root, store_url, "approve", run_id, "ok", OPSBOOK_OPERATOR="lead", **env)
    assert approved.returncode == 0, approved.stderr
    resumed = cli(root, store_url, "resume", run_id, **env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    return run_id


def _verify(root: Path, store_url: str, *args: str, **env: str) -> tuple[int, str]:
    done = cli(root, store_url, "verify-log", *args, **env)
    assert "Traceback" not in done.stderr
    return done.returncode, done.stdout + done.stderr


def test_a_forged_approval_is_named_and_refused_by_resume(tmp_path: Path, store_url: str) -> None:
    root = project(tmp_path / "p", SPEC)
    run_id = _paused(root, store_url)
    _sql(
        store_url,
        insert(schema.approvals).values(
            run_id=run_id,
            step_id="ok",
            decision="approved",
            operator="mallory",
            note="",
            evidence={},
            created_at=time.time(),
        ),
    )
    code, out = _verify(root, store_url)
    assert code == 1, out
    assert f"(run {run_id}, gate ok, approved by 'mallory'): no matching gate_approved" in out
    resumed = cli(root, store_url, "resume", run_id)
    assert resumed.returncode == 3, resumed.stdout + resumed.stderr
    assert "has no valid event in the audit log" in resumed.stdout + resumed.stderr
    assert not (root / "deployed.txt").exists()


EDITS: list[tuple[str, Callable[[str], Any], str]] = [
    (
        "runs.operator",
        lambda r: update(schema.runs).where(schema.runs.c.id == r).values(operator="eve"),
        "operator 'eve' differs from its run_created event",
    ),
    (
        "runs.params",
        lambda r: update(schema.runs).where(schema.runs.c.id == r).values(params={"version": "9"}),
        "params differ from its run_created event",
    ),
    (
        "runs.status",
        lambda r: update(schema.runs).where(schema.runs.c.id == r).values(status="failed"),
        "status 'failed' differs from its run_finished event",
    ),
    (
        "approvals.operator",
        lambda r: (
            update(schema.approvals).where(schema.approvals.c.run_id == r).values(operator="ceo")
        ),
        "approved by 'ceo'): no matching gate_approved event",
    ),
    (
        "attempts.output",
        lambda r: (
            update(schema.attempts)
            .where(schema.attempts.c.run_id == r, schema.attempts.c.step_id == "build")
            .values(output="nothing to see")
        ),
        "step build execute attempt 1: output differs from its event's digest",
    ),
    (
        "steps.outputs",
        lambda r: (
            update(schema.steps)
            .where(schema.steps.c.run_id == r, schema.steps.c.step_id == "build")
            .values(outputs={"sha": "evil"})
        ),
        "step build: outputs differ from its step_succeeded event",
    ),
]


@pytest.mark.parametrize("name,edit,named", EDITS, ids=[e[0] for e in EDITS])
def test_an_edited_row_is_named(
    tmp_path: Path, store_url: str, name: str, edit: Callable[[str], Any], named: str
) -> None:
    root = project(tmp_path / "p", SPEC)
    run_id = _finished(root, store_url)
    assert _verify(root, store_url)[0] == 0
    _sql(store_url, edit(run_id))
    code, out = _verify(root, store_url)
    assert code == 1, out
    assert named in out, out


def test_a_deleted_run_is_named(tmp_path: Path, store_url: str) -> None:
    root = project(tmp_path / "p", SPEC)
    run_id = _finished(root, store_url)
    _sql(
        store_url,
        *(delete(t).where(t.c.run_id == run_id) for t in (schema.approvals, schema.attempts)),
        delete(schema.steps).where(schema.steps.c.run_id == run_id),
        delete(schema.runs).where(schema.runs.c.id == run_id),
    )
    code, out = _verify(root, store_url)
    assert code == 1 and f"run {run_id}: its row was deleted" in out, out


def _truncate(store_url: str, keep: int) -> None:
    """Delete the events after ``keep`` and move the head back, as an attacker would."""
    store = open_store(store_url)
    try:
        with store.begin() as conn:
            conn.execute(delete(schema.events).where(schema.events.c.seq > keep))
            last = conn.execute(
                select(schema.events.c.hash).where(schema.events.c.seq == keep)
            ).scalar()
            conn.execute(update(schema.chain).values(head_seq=keep, head_hash=last or GENESIS_HASH))
    finally:
        store.close()


def _rebuild(store_url: str) -> None:
    """Rewrite one event's actor and recompute every hash after it (the keyless forgery)."""
    store = open_store(store_url)
    try:
        with store.begin() as conn:
            rows = conn.execute(select(schema.events).order_by(schema.events.c.seq)).all()
            prev = GENESIS_HASH
            for row in rows:
                actor = "mallory" if row.type == "gate_approved" else row.actor
                digest = event_hash(
                    prev, row.seq, row.run_id, row.step_id, row.type, row.at, actor, row.data
                )
                conn.execute(
                    update(schema.events)
                    .where(schema.events.c.seq == row.seq)
                    .values(actor=actor, prev_hash=prev, hash=digest, mac=None)
                )
                prev = digest
            conn.execute(update(schema.chain).values(head_hash=prev))
            conn.execute(update(schema.approvals).values(operator="mallory"))
    finally:
        store.close()


def test_a_truncated_tail_is_caught_by_the_anchor(tmp_path: Path, store_url: str) -> None:
    root = project(tmp_path / "p", SPEC)
    anchor = tmp_path / "audit.anchor"
    _finished(root, store_url)
    anchored = cli(root, store_url, "audit", "anchor", str(anchor))
    assert anchored.returncode == 0 and "anchored event" in anchored.stdout, anchored.stderr
    head = int(anchor.read_text().split()[0])
    _truncate(store_url, head - 3)
    code, out = _verify(root, store_url, "--anchor", str(anchor))
    assert code == 1, out
    assert f"anchored event {head} is gone; the log ends at {head - 3}" in out


def test_a_rebuilt_chain_is_caught_by_the_anchor(tmp_path: Path, store_url: str) -> None:
    root = project(tmp_path / "p", SPEC)
    anchor = tmp_path / "audit.anchor"
    _finished(root, store_url)
    assert _verify(root, store_url, "--anchor", str(anchor))[0] == 0  # first anchor written
    assert len(anchor.read_text().splitlines()) == 1
    _rebuild(store_url)
    code, out = _verify(root, store_url)
    assert code == 0, out  # without a key or an anchor a full rebuild is undetectable
    code, out = _verify(root, store_url, "--anchor", str(anchor))
    assert code == 1 and "the chain was rewritten" in out, out


def test_a_rebuilt_chain_is_caught_by_the_key(tmp_path: Path, store_url: str) -> None:
    root = project(tmp_path / "p", SPEC)
    _finished(root, store_url, **KEY)
    assert _verify(root, store_url, **KEY)[0] == 0
    _rebuild(store_url)
    code, out = _verify(root, store_url, **KEY)
    assert code == 1 and "no event carries a valid MAC" in out, out
    wrong = _verify(root, store_url, OPSBOOK_AUDIT_KEY="another-key")
    assert wrong[0] == 1


def test_the_key_is_never_stored(tmp_path: Path, store_url: str) -> None:
    root = project(tmp_path / "p", SPEC)
    _finished(root, store_url, **KEY)
    store = open_store(store_url)
    try:
        with store.begin() as conn:
            text = " ".join(
                str(tuple(row))
                for t in schema.metadata.sorted_tables
                for row in conn.execute(select(t))
            )
    finally:
        store.close()
    assert KEY["OPSBOOK_AUDIT_KEY"] not in text
