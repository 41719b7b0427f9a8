"""Processes never outlive their run (issue "Trust", attack 5): after SIGTERM, SIGHUP or kill -9
of opsbook no step process remains beyond the kill grace period, the lease is released (or the
leftovers are reaped), and resume continues at once."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from engine_support import cli, crash, only_run, popen, project, rows
from opsbook.store import schema

pytestmark = pytest.mark.store

SPEC = """\
version: 1
project: t
environments:
  local: {}
runbooks:
  r:
    steps:
      - id: long
        idempotent: true
        run: |
          if [ -f second ]; then echo second run; exit 0; fi
          touch second
          sleep 300 &
          sleep 300
"""


def _until(what: Callable[[], object], seconds: float = 60) -> object:
    """Poll ``what`` until it returns something true, at most ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"gave up after {seconds}s waiting for {what}")


def _step_processes(run_id: str) -> list[int]:
    """Processes anywhere on this machine started for the run's steps."""
    return _processes_with(f"OPSBOOK_RUN_ID={run_id}")


def _processes_with(variable: str) -> list[int]:
    """Processes anywhere on this machine whose environment holds ``variable`` (NAME=value)."""
    mark = variable.encode()
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if mark in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _started(store_url: str) -> str:
    def attempt() -> str | None:
        found = [r for r in rows(store_url, schema.attempts) if r.pgid]
        return found[0].run_id if found else None

    return str(_until(attempt))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_kills_the_steps_releases_the_lease_and_resume_goes_on(
    tmp_path: Path, store_url: str, signum: int
) -> None:
    root = project(tmp_path, SPEC)
    proc = popen(root, store_url, "run", "r", "--env", "local", "--yes", OPSBOOK_LEASE_SECONDS="60")
    run_id = _started(store_url)
    _until(lambda: len(_step_processes(run_id)) >= 2)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, err
    assert "Traceback" not in err and "interrupted" in err
    assert _step_processes(run_id) == []
    run = only_run(store_url)
    assert run.lease_owner is None  # released: no waiting for the 60 s lease to expire
    resumed = cli(root, store_url, "resume", run_id, OPSBOOK_LEASE_SECONDS="60")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "second run" in resumed.stdout


def test_kill_9_leaves_no_step_process_behind(tmp_path: Path, store_url: str) -> None:
    root = project(tmp_path, SPEC)
    # a fresh interpreter, the way a user starts it: the reaper must work from the real entry
    proc = popen(root, store_url, "run", "r", "--env", "local", "--yes", fresh=True)
    run_id = _started(store_url)
    _until(lambda: len(_step_processes(run_id)) >= 2)
    folders = list(Path(tempfile.gettempdir()).glob(f"opsbook-{run_id}-*"))
    assert len(folders) == 1  # the run's private folder for $OPSBOOK_OUTPUT files
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    # the reaper kills the group within the kill grace (1 s in these tests), then removes the
    # folder that opsbook could not remove itself
    _until(lambda: _step_processes(run_id) == [], seconds=30)
    _until(lambda: not folders[0].exists(), seconds=30)
    time.sleep(1.5)  # the lease (1 s here) expires; no other way to let a dead owner's lapse
    resumed = cli(root, store_url, "resume", run_id)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr


def test_leftovers_of_a_crashed_attempt_are_reaped_before_it_runs_again(
    tmp_path: Path, store_url: str
) -> None:
    """Even without the reaper (killed too), resume kills the old group before rerunning."""
    root = project(tmp_path, SPEC)
    proc = popen(root, store_url, "run", "r", "--env", "local", "--yes")
    run_id = _started(store_url)
    _until(lambda: len(_step_processes(run_id)) >= 2)
    reapers = subprocess.run(
        ["pgrep", "-f", "opsbook.reaper.py"], capture_output=True, text=True, check=False
    ).stdout.split()
    for pid in reapers:  # only reapers whose parent is our opsbook process
        if Path(f"/proc/{pid}/stat").read_text().split()[3] == str(proc.pid):
            os.kill(int(pid), signal.SIGKILL)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert _step_processes(run_id)  # the crash left the step running
    time.sleep(1.5)  # the 1 s lease lapses
    resumed = cli(root, store_url, "resume", run_id)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert _step_processes(run_id) == []


def test_a_folder_left_by_a_crash_with_its_reaper_is_removed_when_the_run_resumes(
    tmp_path: Path, store_url: str
) -> None:
    """A power cut takes the reaper too, so nobody removes the run's private folder (it may hold
    raw $OPSBOOK_OUTPUT values): the executor that resumes the run on this machine does."""
    root = project(tmp_path, SPEC)
    proc = popen(root, store_url, "run", "r", "--env", "local", "--yes")
    run_id = _started(store_url)
    _until(lambda: len(_step_processes(run_id)) >= 2)
    folders = list(Path(tempfile.gettempdir()).glob(f"opsbook-{run_id}-*"))
    assert len(folders) == 1
    (folders[0] / "long.1.out").write_text("TOKEN=raw-value\n")
    crash(proc)  # opsbook, its reaper and its steps, at once
    assert folders[0].exists()  # nothing was left alive to remove it
    time.sleep(1.5)  # the 1 s lease lapses
    resumed = cli(root, store_url, "resume", run_id)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert not folders[0].exists()
    assert list(Path(tempfile.gettempdir()).glob(f"opsbook-{run_id}-*")) == []


def test_a_folder_left_after_the_runs_last_commit_is_removed_by_a_resume(
    tmp_path: Path, store_url: str
) -> None:
    """A kill of opsbook and its reaper between the run's last commit and the folder's removal
    (the suite's random kills hit it): the run is finished, so nothing executes it again. The
    resume that finds it finished removes the folder."""
    root = project(tmp_path, "version: 1\nproject: t\nenvironments: {local: {}}\n"
                   "runbooks:\n  q:\n    steps:\n      - {id: a, run: 'true'}\n")  # fmt: skip
    done = cli(root, store_url, "run", "q", "--env", "local")
    assert done.returncode == 0, done.stdout + done.stderr
    run_id = only_run(store_url).id
    left = Path(tempfile.mkdtemp(prefix=f"opsbook-{run_id}-"))
    (left / "a.1.out").write_text("TOKEN=raw-value\n")
    resumed = cli(root, store_url, "resume", run_id)
    assert resumed.returncode == 2 and "already finished (succeeded)" in resumed.stderr
    assert not left.exists()


@pytest.mark.parametrize("error", [KeyboardInterrupt, RuntimeError])
def test_a_step_group_is_killed_when_recording_it_fails_or_a_signal_lands_then(
    tmp_path: Path, error: type[BaseException]
) -> None:
    """Between the spawn and the supervision, the engine records the group (a transaction): a
    signal (serve's SIGTERM arrives as KeyboardInterrupt) or a store error there must kill the
    group, not leave it running unlisted."""
    import threading

    from opsbook.steps.run import run_shell

    mark = f"opsbook-spawn-test-{os.getpid()}-{error.__name__}"

    def fail(_pgid: int) -> None:
        _until(lambda: _marked(mark), seconds=30)
        raise error("recording failed")

    with pytest.raises(error):
        run_shell(
            "sleep 300 & sleep 300",
            cwd=tmp_path,
            env={**os.environ, "OPSBOOK_TEST_MARK": mark, "OPSBOOK_KILL_GRACE": "1"},
            log=lambda _line: None,
            timeout=None,
            cancelled=threading.Event(),
            on_spawn=fail,
        )
    _until(lambda: not _marked(mark), seconds=30)


def _marked(mark: str) -> list[int]:
    return _processes_with(f"OPSBOOK_TEST_MARK={mark}")
