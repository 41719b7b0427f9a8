"""`opsbook run` end to end: outputs, rollback, irreversible steps, timeouts, retries, gates,
continue_on_error and masking, through the real CLI against a real store."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from urllib.parse import quote

import pytest

from engine_support import cli, dump_store, only_run, pid_alive, project, rows, step_status
from opsbook.store import schema

pytestmark = pytest.mark.store

RELEASE = """\
version: 1
project: shop
environments:
  local: {env_file: .env.local}
  production: {protected: true}
runbooks:
  release:
    params: {version: {required: true}, fail_at: {default: none}}
    steps:
      - id: backup
        run: echo backup >> log.txt; echo "file=backup-${{ run.id }}.sql" >> $OPSBOOK_OUTPUT
        rollback: echo undo-backup >> log.txt
      - {id: migrate, run: echo migrate >> log.txt, irreversible: true,
         if: "${{ params.fail_at == 'after-migrate' }}"}
      - id: deploy
        run: echo deploy ${{ params.version }} from ${{ steps.backup.outputs.file }} >> log.txt
        rollback: echo undo-deploy >> log.txt
      - id: verify
        run: test "${{ params.fail_at }}" = none && echo verified >> log.txt
"""


def test_a_run_succeeds_and_passes_outputs_to_later_steps(tmp_path: Path, store_url: str) -> None:
    root = project(tmp_path, RELEASE, "TOKEN=abcd1234\n")
    done = cli(root, store_url, "run", "release", "--env", "local", "-p", "version=2")
    assert done.returncode == 0, done.stdout + done.stderr
    run = only_run(store_url)
    assert run.status == "succeeded" and run.lock_key is None and run.operator == "tester"
    assert (root / "log.txt").read_text().splitlines() == [
        "backup",
        f"deploy 2 from backup-{run.id}.sql",
        "verified",
    ]
    assert step_status(store_url, run.id)["migrate"] == "skipped"
    assert "✓ deploy succeeded" in done.stdout


def test_a_failure_after_deploy_rolls_back_in_reverse_order(tmp_path: Path, store_url: str) -> None:
    root = project(tmp_path, RELEASE, "")
    done = cli(
        root,
        store_url,
        "run",
        "release",
        "--env",
        "local",
        "-p",
        "version=2",
        "-p",
        "fail_at=verify",
    )
    assert done.returncode == 1
    assert (root / "log.txt").read_text().splitlines()[-2:] == ["undo-deploy", "undo-backup"]
    run = only_run(store_url)
    assert run.status == "rolled_back" and run.lock_key is None
    assert run.summary["rolled_back"] == ["deploy", "backup"]
    assert step_status(store_url, run.id)["deploy"] == "rolled_back"
    assert "rolled back: deploy, backup" in done.stderr


def test_rollback_stops_at_an_irreversible_step_and_says_so(tmp_path: Path, store_url: str) -> None:
    root = project(tmp_path, RELEASE, "")
    done = cli(
        root,
        store_url,
        "run",
        "release",
        "--env",
        "local",
        "-p",
        "version=2",
        "-p",
        "fail_at=after-migrate",
    )
    assert done.returncode == 1
    lines = (root / "log.txt").read_text().splitlines()
    assert "undo-deploy" in lines and "undo-backup" not in lines
    run = only_run(store_url)
    assert run.status == "failed"
    assert run.summary["stopped_at"] == "migrate"
    assert run.summary["not_rolled_back"] == ["migrate", "backup"]
    assert "NOT rolled back past irreversible step migrate" in done.stderr
    assert "rollback stops at irreversible step migrate" in done.stdout


TIMEOUTS = """\
version: 1
project: t
environments: {local: {}}
runbooks:
  slow:
    steps:
      - id: hang
        run: sleep 30 & echo $! > child.pid; sleep 30
        timeout: 300ms
  flaky:
    steps:
      - id: try
        run: n=$(cat n 2>/dev/null || echo 0); n=$((n+1)); echo $n > n; test $n -ge 3
        retry: {attempts: 3, delay: 50ms, backoff: 2}
      - {id: after, run: echo after >> log.txt}
  tolerant:
    steps:
      - {id: optional, run: exit 7, continue_on_error: true}
      - {id: next, run: echo next >> log.txt}
      - {id: outcome, run: 'echo ${{ steps.optional.outcome }} >> log.txt'}
"""


def test_a_timeout_kills_the_whole_process_group(tmp_path: Path, store_url: str) -> None:
    root = project(tmp_path, TIMEOUTS)
    done = cli(root, store_url, "run", "slow", "--env", "local")
    assert done.returncode == 1
    assert "timed out after 0.3s" in done.stdout
    child = int((root / "child.pid").read_text())
    assert not pid_alive(child), "the background child of the step survived the timeout"


def test_retries_with_backoff_until_the_step_passes(tmp_path: Path, store_url: str) -> None:
    root = project(tmp_path, TIMEOUTS)
    done = cli(root, store_url, "run", "flaky", "--env", "local")
    assert done.returncode == 0, done.stdout + done.stderr
    run = only_run(store_url)
    attempts = rows(store_url, schema.attempts, run_id=run.id, step_id="try")
    assert [a.status for a in attempts] == ["failed", "failed", "succeeded"]
    assert "retrying in 0.1s" in done.stdout  # 50ms, then 100ms (backoff 2)


def test_continue_on_error_lets_the_run_go_on(tmp_path: Path, store_url: str) -> None:
    root = project(tmp_path, TIMEOUTS)
    done = cli(root, store_url, "run", "tolerant", "--env", "local")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (root / "log.txt").read_text().splitlines() == ["next", "failure"]
    assert "(continue_on_error)" in done.stdout


SECRET = "s3cr3t-Tok/en+42"  # pragma: allowlist secret
MASKED = """\
version: 1
project: m
environments: {local: {env_file: .env.local}}
env:
  API_TOKEN: {required: true, secret: true}
runbooks:
  leak:
    steps:
      - id: plain
        run: echo "token=$API_TOKEN"; echo "tok=$API_TOKEN" >> $OPSBOOK_OUTPUT
      - id: encoded
        run: >-
          printf %s "$API_TOKEN" | base64;
          python3 -c "import os, urllib.parse as u; print(u.quote(os.environ['API_TOKEN'], ''))"
      - id: templated
        run: echo "${{ env.API_TOKEN }}"; exit 1
"""


def test_a_secret_appears_nowhere(tmp_path: Path, store_url: str) -> None:
    root = project(tmp_path, MASKED, f"API_TOKEN={SECRET}\n")
    forms = [SECRET, base64.b64encode(SECRET.encode()).decode(), quote(SECRET, safe="")]
    assert len(set(forms)) == 3
    for as_json in ([], ["--json"]):
        done = cli(root, store_url, "run", "leak", "--env", "local", *as_json)
        assert done.returncode == 1
        shown = done.stdout + done.stderr
        assert "***" in shown
        for form in forms:
            assert form not in shown
    for command in (["show", "last", "--json"], ["show", "last"], ["runs"]):
        shown = cli(root, store_url, *command)
        assert shown.returncode == 0, shown.stderr
        for form in forms:
            assert form not in shown.stdout + shown.stderr
    stored = dump_store(store_url)
    assert "***" in stored
    for form in forms:
        assert form not in stored
    if store_url.startswith("sqlite"):
        db = Path(store_url.removeprefix("sqlite:///"))
        raw = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
        for form in forms:
            assert form.encode() not in raw


GATES = """\
version: 1
project: g
environments:
  local: {}
  production: {protected: true}
runbooks:
  release:
    steps:
      - {id: build, run: echo "artifact=app-7" >> $OPSBOOK_OUTPUT}
      - id: window
        gate: [On-call engineer is aware, Status page updated]
      - {id: deploy, run: echo deployed >> log.txt, rollback: echo undeployed >> log.txt}
"""


def test_a_gate_pauses_with_exit_3_and_approve_lets_the_run_continue(
    tmp_path: Path, store_url: str
) -> None:
    root = project(tmp_path, GATES)
    done = cli(root, store_url, "run", "release", "--env", "local")
    assert done.returncode == 3, done.stdout + done.stderr
    run = only_run(store_url)
    assert f"opsbook approve {run.id} window" in done.stderr
    assert run.status == "waiting" and run.lock_key == "local"
    assert not (root / "log.txt").exists()
    approved = cli(
        root,
        store_url,
        "approve",
        run.id,
        "window",
        "--note",
        "watched the graphs",
        OPSBOOK_OPERATOR="alice",
    )
    assert approved.returncode == 0, approved.stderr
    resumed = cli(root, store_url, "resume", run.id)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert (root / "log.txt").read_text() == "deployed\n"
    (approval,) = rows(store_url, schema.approvals, run_id=run.id)
    assert (approval.decision, approval.operator, approval.note) == (
        "approved",
        "alice",
        "watched the graphs",
    )
    assert approval.evidence["outputs"] == {"build": {"artifact": "app-7"}}


def test_a_rejected_gate_fails_the_run(tmp_path: Path, store_url: str) -> None:
    root = project(tmp_path, GATES)
    assert cli(root, store_url, "run", "release", "--env", "local").returncode == 3
    run = only_run(store_url)
    assert cli(root, store_url, "approve", run.id, "window", "--reject").returncode == 0
    resumed = cli(root, store_url, "resume", run.id)
    assert resumed.returncode == 1
    assert only_run(store_url).status == "rolled_back"
    assert not (root / "log.txt").exists()


def test_yes_approves_gates_but_never_in_a_protected_environment(
    tmp_path: Path, store_url: str
) -> None:
    root = project(tmp_path, GATES)
    local = cli(root, store_url, "run", "release", "--env", "local", "--yes")
    assert local.returncode == 0, local.stdout + local.stderr
    prod = cli(root, store_url, "run", "release", "--env", "production", "--yes")
    assert prod.returncode == 3
    assert re.search(r"opsbook approve \S+ window", prod.stderr)
    # a protected environment shows the plan before anything runs
    assert prod.stdout.index("environment production (protected)") < prod.stdout.index("started")
    assert "gates a human must answer: window" in prod.stdout
    assert "(protected)" not in local.stdout


def test_json_events_are_one_object_per_line(tmp_path: Path, store_url: str) -> None:
    import json

    root = project(tmp_path, GATES)
    done = cli(root, store_url, "run", "release", "--env", "local", "--yes", "--json")
    assert done.returncode == 0
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert events[0]["type"] == "run_started"
    assert events[-1]["type"] == "run_finished" and events[-1]["status"] == "succeeded"


CHATTY = """\
version: 1
project: c
environments: {local: {}}
runbooks:
  chatty:
    steps:
      - {id: talk, run: 'seq 1 20000; echo the-end'}
"""


def test_stored_output_is_capped_keeping_head_and_tail(tmp_path: Path, store_url: str) -> None:
    root = project(tmp_path, CHATTY)
    done = cli(root, store_url, "run", "chatty", "--env", "local", OPSBOOK_OUTPUT_CAP="2000")
    assert done.returncode == 0
    (attempt,) = rows(store_url, schema.attempts)
    lines = attempt.output.splitlines()
    assert lines[0] == "1" and lines[-1] == "the-end"
    assert any(re.fullmatch(r"\[\.\.\. \d+ lines omitted \.\.\.\]", line) for line in lines)
    assert len(attempt.output) <= 2100


def test_a_run_resumes_with_the_spec_it_started_with(tmp_path: Path, store_url: str) -> None:
    root = project(tmp_path, GATES)
    assert cli(root, store_url, "run", "release", "--env", "local").returncode == 3
    spec = root / "opsbook.yaml"
    spec.write_text(spec.read_text().replace("echo deployed", "echo edited-later"))
    run = only_run(store_url)
    assert cli(root, store_url, "approve", run.id, "window").returncode == 0
    assert cli(root, store_url, "resume", run.id).returncode == 0
    assert (root / "log.txt").read_text() == "deployed\n"
    assert "echo deployed" in only_run(store_url).spec_text
