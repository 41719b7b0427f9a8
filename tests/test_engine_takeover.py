"""Taking a run over: at once when its holder provably died on this machine, exit 4 naming a
live holder; abort's exit code and abort/lease loss stopping a rollback in flight."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from engine_support import cli, crash, only_run, popen, project, rows
from opsbook.store import schema

LONG_LEASE = {"OPSBOOK_LEASE_SECONDS": "120"}
"""Far longer than any test waits: a takeover that works must not be waiting for it."""


def _wait_for(path: Path, timeout: float = 60.0) -> None:
    """Bounded wait for a file a step creates."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.02)


KILLED = """\
version: 1
project: k
environments: {local: {}}
runbooks:
  release:
    steps:
      - {id: first, run: echo first >> side.txt}
      - id: slow
        run: if [ -f started ]; then echo slow >> side.txt; else touch started; sleep 60; fi
        idempotent: true
      - {id: last, run: echo last >> side.txt}
"""


@pytest.mark.store
def test_resume_right_after_a_kill_takes_the_run_at_once(tmp_path: Path, store_url: str) -> None:
    root = project(tmp_path, KILLED)
    proc = popen(root, store_url, "run", "release", "--env", "local", **LONG_LEASE)
    _wait_for(root / "started")
    crash(proc)  # SIGKILL: the lease stays recorded, valid for two more minutes
    done = cli(root, store_url, "resume", "last", **LONG_LEASE)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (root / "side.txt").read_text().split() == ["first", "slow", "last"]
    run = only_run(store_url)
    assert run.status == "succeeded"
    leased = [e for e in rows(store_url, schema.events, run_id=run.id) if e.type == "run_leased"]
    assert [e.data for e in leased if "took_from_dead_holder" in e.data], leased


HELD = """\
version: 1
project: h
environments: {local: {}}
runbooks:
  release:
    steps:
      - id: hold
        run: touch started; i=0; while [ ! -f go ] && [ $i -lt 900 ]; do sleep 0.1; i=$((i+1)); done
        timeout: 90s
"""


@pytest.mark.store
def test_a_live_holder_gives_exit_4_with_who_and_since_when(tmp_path: Path, store_url: str) -> None:
    root = project(tmp_path, HELD)
    proc = popen(root, store_url, "run", "release", "--env", "local", **LONG_LEASE)
    try:
        _wait_for(root / "started")
        run = only_run(store_url)
        busy = cli(root, store_url, "resume", run.id, **LONG_LEASE)
        assert busy.returncode == 4, busy.stdout + busy.stderr
        holder = f"is being executed by pid {proc.pid} on {socket.gethostname()[:60]} since"
        assert holder in busy.stderr and " UTC" in busy.stderr, busy.stderr
        assert "Traceback" not in busy.stderr
    finally:
        (root / "go").write_text("")
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, out + err


UNDO_FAILS = """\
version: 1
project: a
environments: {local: {}}
runbooks:
  release:
    steps:
      - {id: build, run: echo built >> side.txt, rollback: echo undoing >> side.txt; exit 7}
      - {id: window, gate: On-call engineer is aware}
"""


@pytest.mark.store
def test_abort_whose_rollback_exits_7_exits_1(tmp_path: Path, store_url: str) -> None:
    root = project(tmp_path, UNDO_FAILS)
    assert cli(root, store_url, "run", "release", "--env", "local").returncode == 3
    done = cli(root, store_url, "abort", "last")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "rollback of build failed" in done.stderr
    assert (root / "side.txt").read_text().split() == ["built", "undoing"]
    assert only_run(store_url).status == "aborted"
    clean = project(tmp_path / "clean", UNDO_FAILS.replace("; exit 7", ""))
    assert cli(clean, store_url, "run", "release", "--env", "local").returncode == 3
    assert cli(clean, store_url, "abort", "last").returncode == 0


SLOW_UNDO = """\
version: 1
project: s
environments: {local: {}}
runbooks:
  release:
    steps:
      - {id: deploy, run: 'true', rollback: touch undoing; sleep 60; echo undone >> side.txt}
      - {id: verify, needs: [deploy], run: exit 1}
"""


@pytest.mark.store
def test_an_abort_stops_a_rollback_in_flight(tmp_path: Path, store_url: str) -> None:
    root = project(tmp_path, SLOW_UNDO)
    proc = popen(root, store_url, "run", "release", "--env", "local")
    _wait_for(root / "undoing")
    asked = cli(root, store_url, "abort", "last")
    assert asked.returncode == 0, asked.stdout + asked.stderr
    out, err = proc.communicate(timeout=40)  # well before the rollback command's 60 s
    assert proc.returncode == 1, out + err
    assert "rollback of deploy was cancelled" in out
    assert not (root / "side.txt").exists()
    assert only_run(store_url).status == "aborted"
