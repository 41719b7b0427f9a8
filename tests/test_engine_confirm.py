"""`confirm:` on a step: the run pauses before it, a human confirms the exact resolved command
(masked), recorded like a gate approval; `--yes` never confirms on a protected environment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine_support import cli, dump_store, only_run, project, rows, step_status
from opsbook.store import schema

pytestmark = pytest.mark.store

CONFIRM = """\
version: 1
project: c
environments:
  local: {env_file: .env.local}
  production: {env_file: .env.local, protected: true}
env:
  API_TOKEN: {secret: true}
runbooks:
  cleanup:
    params: {target: {default: ./data}}
    steps:
      - {id: look, run: echo looked >> log.txt, read_only: true}
      - id: wipe
        run: rm -rf ${{ params.target }} && echo "wiped with $API_TOKEN" >> log.txt
        confirm: true
        irreversible: true
      - id: tell
        run: echo told >> log.txt
        confirm: Tell the team in the release channel first
"""


def _setup(tmp_path: Path) -> Path:
    root = project(tmp_path, CONFIRM, "API_TOKEN=tok-4f9a2c77e1\n")
    (root / "data").mkdir()
    (root / "data" / "keep.txt").write_text("x")
    return root


def test_yes_on_a_protected_environment_waits_with_the_exact_command(
    tmp_path: Path, store_url: str
) -> None:
    root = _setup(tmp_path)
    done = cli(root, store_url, "run", "cleanup", "--env", "production", "--yes")
    assert done.returncode == 3, done.stdout + done.stderr
    run = only_run(store_url)
    shown = done.stdout + done.stderr
    assert 'rm -rf ./data && echo "wiped with $API_TOKEN" >> log.txt' in shown
    assert f"opsbook approve {run.id} wipe" in done.stderr
    assert "to confirm: run: rm -rf ./data" in done.stderr
    # the plan printed first lists the confirmations with the gates
    assert "confirm before running: wipe, tell" in done.stdout
    assert (root / "data").is_dir()
    assert (root / "log.txt").read_text() == "looked\n"
    assert step_status(store_url, run.id)["wipe"] == "waiting"
    assert rows(store_url, schema.approvals) == []

    approved = cli(
        root,
        store_url,
        "approve",
        run.id,
        "wipe",
        "--note",
        "backup checked",
        OPSBOOK_OPERATOR="ann",
    )
    assert approved.returncode == 0, approved.stderr
    assert "confirmed (run: rm -rf ./data" in approved.stdout and "by ann" in approved.stdout
    # the next confirmation pauses the run again, quoting its own text
    second = cli(root, store_url, "resume", run.id, "--yes")
    assert second.returncode == 3, second.stdout + second.stderr
    assert not (root / "data").exists()
    assert "Tell the team in the release channel first" in second.stderr
    assert cli(root, store_url, "approve", run.id, "tell", OPSBOOK_OPERATOR="bob").returncode == 0
    finished = cli(root, store_url, "resume", run.id)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert (root / "log.txt").read_text() == "looked\nwiped with tok-4f9a2c77e1\ntold\n"

    wipe, tell = sorted(rows(store_url, schema.approvals, run_id=run.id), key=lambda a: a.id)
    assert (wipe.step_id, wipe.decision, wipe.operator, wipe.note) == (
        "wipe",
        "approved",
        "ann",
        "backup checked",
    )
    assert wipe.evidence["confirm"] is True
    assert wipe.evidence["items"] == [
        'run: rm -rf ./data && echo "wiped with $API_TOKEN" >> log.txt'
    ]
    assert tell.operator == "bob"

    show = cli(root, store_url, "show", run.id)
    assert show.returncode == 0, show.stderr
    assert "confirmation: wipe confirmed (run: rm -rf ./data" in show.stdout
    assert "by ann" in show.stdout
    releases = cli(root, store_url, "releases", "--json")
    assert releases.returncode == 0, releases.stderr
    (release,) = json.loads(releases.stdout)
    assert {(a["step_id"], a["operator"]) for a in release["approvals"]} == {
        ("wipe", "ann"),
        ("tell", "bob"),
    }
    assert "tok-4f9a2c77e1" not in dump_store(store_url)


def test_yes_confirms_on_an_unprotected_environment_and_says_so(
    tmp_path: Path, store_url: str
) -> None:
    root = _setup(tmp_path)
    done = cli(root, store_url, "run", "cleanup", "--env", "local", "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert not (root / "data").exists()
    run = only_run(store_url)
    notes = {a.step_id: (a.operator, a.note) for a in rows(store_url, schema.approvals)}
    assert notes == {
        "wipe": ("tester", "auto-approved (--yes)"),
        "tell": ("tester", "auto-approved (--yes)"),
    }
    assert "auto-approved (--yes)" in cli(root, store_url, "show", run.id).stdout


def test_without_yes_an_unprotected_environment_also_waits(tmp_path: Path, store_url: str) -> None:
    root = _setup(tmp_path)
    done = cli(root, store_url, "run", "cleanup", "--env", "local")
    assert done.returncode == 3, done.stdout + done.stderr
    assert (root / "data").is_dir()


def test_a_rejected_confirmation_fails_the_step_and_runs_nothing(
    tmp_path: Path, store_url: str
) -> None:
    root = _setup(tmp_path)
    assert cli(root, store_url, "run", "cleanup", "--env", "production").returncode == 3
    run = only_run(store_url)
    assert cli(root, store_url, "approve", run.id, "wipe", "--reject").returncode == 0
    resumed = cli(root, store_url, "resume", run.id)
    assert resumed.returncode == 1, resumed.stdout + resumed.stderr
    assert "not confirmed: rejected by tester" in resumed.stdout + resumed.stderr
    assert (root / "data").is_dir()
    assert step_status(store_url, run.id)["tell"] == "pending"


def test_approve_refuses_a_step_that_asks_nothing(tmp_path: Path, store_url: str) -> None:
    root = _setup(tmp_path)
    assert cli(root, store_url, "run", "cleanup", "--env", "production").returncode == 3
    run = only_run(store_url)
    refused = cli(root, store_url, "approve", run.id, "look")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "not a gate or a step to confirm" in refused.stderr


def test_plan_json_lists_what_is_confirmed(tmp_path: Path, store_url: str) -> None:
    root = _setup(tmp_path)
    done = cli(root, store_url, "plan", "cleanup", "-e", "production", "--json")
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert plan["confirmations"] == ["wipe", "tell"]
    by_id = {s["id"]: s for s in plan["steps"]}
    assert by_id["look"]["confirm"] is None
    assert by_id["wipe"]["confirm"] == [
        'run: rm -rf ./data && echo "wiped with $API_TOKEN" >> log.txt'
    ]
    assert by_id["tell"]["confirm"] == [
        "run: echo told >> log.txt",
        "Tell the team in the release channel first",
    ]


IMPORTED = """\
# Cleanup Runbook

## Clear the cache

```bash
ls data
rm -rf ./data
```
"""


def test_an_imported_rm_rf_waits_for_confirmation_on_production(
    tmp_path: Path, store_url: str
) -> None:
    """issue 11: `rm -rf ./data` from a Markdown runbook never runs unconfirmed on production."""
    root = tmp_path
    (root / "RUNBOOK.md").write_text(IMPORTED)
    imported = cli(root, store_url, "import", "RUNBOOK.md")
    assert imported.returncode == 0, imported.stdout + imported.stderr
    (root / ".env.production").write_text("")
    (root / "data").mkdir()
    (root / "data" / "cache.bin").write_text("x")
    done = cli(root, store_url, "run", "clear-the-cache", "-e", "production", "--yes")
    assert done.returncode == 3, done.stdout + done.stderr
    run = only_run(store_url)
    assert "to confirm: run: ls data" in done.stderr and "rm -rf ./data" in done.stderr
    assert "waiting for a human to confirm: run: ls data\nrm -rf ./data" in done.stdout
    assert f"opsbook approve {run.id} ls-data" in done.stderr
    assert (root / "data" / "cache.bin").exists()

    assert (
        cli(root, store_url, "approve", run.id, "ls-data", OPSBOOK_OPERATOR="ann").returncode == 0
    )
    resumed = cli(root, store_url, "resume", run.id)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert not (root / "data").exists()
    shown = cli(root, store_url, "show", run.id).stdout
    assert "confirmation: ls-data confirmed (run: ls data" in shown and "by ann" in shown
    releases = cli(root, store_url, "releases")
    assert "ls-data: approved by ann" in releases.stdout
