"""runs, show, releases and verify-log over runs made by the real engine."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import update

from engine_support import cli, project
from opsbook.store import open_store, schema

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
      - id: build
        run: echo "sha=abc123" >> "$OPSBOOK_OUTPUT"; echo building ${{ params.version }}
      - {id: ok, gate: Ship it?}
      - {id: deploy, run: 'echo deployed ${{ params.version }}', rollback: echo undeploy}
  diagnose:
    steps:
      - {id: look, run: echo looking, read_only: true}
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository holding the project, so runs record the project's git SHA."""
    root = project(tmp_path / "p", SPEC)
    for command in (
        ["git", "init", "-q"],
        [
            "git",
            "-c",
            "user.email=a@b",
            "-c",
            "user.name=A",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "x",
        ],
    ):
        subprocess.run(command, cwd=root, check=True)
    return root


def _release(root: Path, store_url: str, version: str) -> str:
    paused = cli(root, store_url, "run", "release", "--env", "local", "-p", f"version={version}")
    assert paused.returncode == 3, paused.stdout + paused.stderr
    run_id = json.loads(cli(root, store_url, "runs", "--json").stdout)[0]["id"]
    approved = cli(
        root,
        store_url,
        "approve",
        run_id,
        "ok",
        "--note",
        f"release {version} checked",
        OPSBOOK_OPERATOR="lead",
    )
    assert approved.returncode == 0, approved.stdout + approved.stderr
    resumed = cli(root, store_url, "resume", run_id)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    return str(run_id)


def test_releases_runs_and_show(repo: Path, store_url: str) -> None:
    first = _release(repo, store_url, "1")
    second = _release(repo, store_url, "2")
    diag = cli(repo, store_url, "run", "diagnose", "--env", "local")
    assert diag.returncode == 0, diag.stderr

    listed = json.loads(cli(repo, store_url, "runs", "--json").stdout)
    assert [r["runbook"] for r in listed] == ["diagnose", "release", "release"]
    assert listed[1]["id"] == second and listed[2]["id"] == first

    log = json.loads(cli(repo, store_url, "releases", "--env", "local", "--json").stdout)
    assert [r["id"] for r in log] == [second, first]  # the read-only diagnosis is no release
    sha = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    newest = log[0]
    assert newest["params"] == {"version": "2"}
    assert newest["git_sha"] == sha
    assert newest["operator"] == "tester"
    assert newest["status"] == "succeeded"
    assert [(a["step_id"], a["decision"], a["operator"]) for a in newest["approvals"]] == [
        ("ok", "approved", "lead")
    ]
    text = cli(repo, store_url, "releases").stdout
    assert "ok: approved by lead" in text and "version=2" in text

    detail = json.loads(cli(repo, store_url, "show", second[:-1], "--json").stdout)
    assert detail["run"]["id"] == second
    steps = {s["step_id"]: s for s in detail["steps"]}
    assert steps["build"]["outputs"] == {"sha": "abc123"}
    assert {s["status"] for s in steps.values()} == {"succeeded"}
    assert detail["approvals"][0]["note"] == "release 2 checked"
    assert any("building 2" in (a["output"] or "") for a in detail["attempts"])
    assert [e["seq"] for e in detail["events"]] == sorted(e["seq"] for e in detail["events"])
    shown = cli(repo, store_url, "show", "last").stdout
    assert "diagnose" in shown and "looking" in shown


def test_show_unknown_run_and_verify_log_after_real_runs(repo: Path, store_url: str) -> None:
    missing = cli(repo, store_url, "show", "nope")
    assert missing.returncode == 2
    assert "no run 'nope'" in missing.stderr and "Traceback" not in missing.stderr
    _release(repo, store_url, "7")
    intact = cli(repo, store_url, "verify-log")
    assert intact.returncode == 0, intact.stderr
    store = open_store(store_url)
    try:
        with store.begin() as conn:
            conn.execute(
                update(schema.events)
                .where(schema.events.c.type.like("%approv%"))
                .values(actor="mallory")
            )
    finally:
        store.close()
    tampered = cli(repo, store_url, "verify-log")
    assert tampered.returncode == 1
    assert "edited after it was written" in tampered.stderr


def test_release_log_reads_past_many_newer_read_only_runs(store_url: str) -> None:
    """A release older than a page of diagnostic runs is still found (pages are read on)."""
    from sqlalchemy import insert

    from opsbook.history import release_log

    store = open_store(store_url)
    try:
        with store.begin() as conn:
            for i in range(61):
                runbook = "release" if i == 0 else "diagnose"
                conn.execute(
                    insert(schema.runs).values(
                        id=f"r{i:03d}", project="audit", runbook=runbook, environment="local",
                        params={}, status="succeeded", operator="t", spec_path="opsbook.yaml",
                        spec_text=SPEC, spec_sha256="0" * 64, created_at=1000.0 + i,
                        updated_at=1000.0 + i,
                    )
                )  # fmt: skip
        assert [r.id for r in release_log(store, limit=5)] == ["r000"]
    finally:
        store.close()


@pytest.mark.postgres
def test_a_command_closes_its_store_when_it_ends(repo: Path, fresh_pg_url: str) -> None:
    """An in-process command (a test, a program embedding opsbook) leaves no session open on the
    server: the store it opened is closed when the command ends, on success and on error."""
    import psycopg

    tag = "opsbook_close_test"
    url = f"{fresh_pg_url}?application_name={tag}"
    assert cli(repo, url, "runs").returncode == 0
    assert cli(repo, url, "show", "no-such-run").returncode != 0
    with psycopg.connect(fresh_pg_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (tag,)
        ).fetchone()
    assert row == (0,)
