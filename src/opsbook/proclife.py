"""Step processes never outlive the opsbook process that started them.

* SIGTERM and SIGHUP (what CI cancellation, ``docker stop``, systemd and ``timeout`` send) are
  handled as Ctrl-C is, while a run executes: every step's process group gets SIGTERM at once
  (SIGKILL after the grace period), the executor checkpoints and releases the lease, and the
  process exits 128 + the signal's number (143 for SIGTERM, 129 for SIGHUP, 130 for Ctrl-C).
* A reaper process (:mod:`opsbook.reaper`) holds the list of live step groups and kills
  them when this process dies without doing so itself (``kill -9``, an OOM kill); it also
  removes the private folders of the runs this process was executing (and should the reaper
  die too, the next executor of the run removes them: :func:`run_folder`). At a normal exit its
  pipe is closed and it is waited for.
* Each attempt records its process group, host and boot id; before an interrupted step is run
  again or resolved on the same machine, :func:`kill_stale` kills what is left of its group,
  after checking from ``/proc`` that the group still runs that run's step (ids are reused).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import IO, Any

KILL_GRACE_ENV = "OPSBOOK_KILL_GRACE"
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")

_lock = threading.Lock()
_groups: set[int] = set()
_folders: set[str] = set()
_reaper: subprocess.Popen[bytes] | None = None
_closes_at_exit: list[int] = []  # the pid that registered the atexit below (a fork must again)
_received: list[int] = []


def grace() -> float:
    return float(os.environ.get(KILL_GRACE_ENV, "5"))


def host() -> str:
    return socket.gethostname()


@functools.cache
def boot_id() -> str:
    """This boot of this machine (a process group id means nothing after a reboot).

    Read once per process (a process cannot outlive its boot); every attempt records it.
    """
    try:
        return _BOOT_ID.read_text().strip()
    except OSError:
        return ""


def received() -> int | None:
    """The signal that interrupted the current run, if one did."""
    return _received[-1] if _received else None


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """While a run executes: SIGTERM and SIGHUP act as Ctrl-C, and every signal kills the steps.

    Only the main thread can own signal handlers; elsewhere (a web server's worker thread) the
    host process keeps its own.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in SIGNALS}

    def handler(signum: int, frame: FrameType | None) -> None:
        _received.append(signum)
        terminate_all()
        raise KeyboardInterrupt

    _received.clear()
    for signum in SIGNALS:
        signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def register(pgid: int) -> None:
    """A step's process group started: the reaper kills it should this process die."""
    with _lock:
        _groups.add(pgid)
        _tell(f"+{pgid}")


def unregister(pgid: int) -> None:
    with _lock:
        _groups.discard(pgid)
        _tell(f"-{pgid}")


def own_folder(path: Path) -> None:
    """A run's private folder ($OPSBOOK_OUTPUT files): the reaper removes it should this process
    die without doing so (told now if the reaper runs, else when the first step starts it)."""
    if "\n" in str(path):  # one line per message to the reaper
        return
    with _lock:
        _folders.add(str(path))
        _tell_if_running(f"@{path}")


def run_folder(run_id: str) -> Path:
    """A new private folder for one executor of ``run_id`` (0700, under the temp dir), told to
    the reaper. Folders of the same run left by an executor that died with its reaper (a
    power cut, ``kill -9`` of both) are removed first: whoever executes the run now holds its
    lease, so no live executor of it still writes there. Only this user's folders are touched."""
    remove_run_folders(run_id)
    folder = Path(tempfile.mkdtemp(prefix=f"opsbook-{run_id}-"))
    own_folder(folder)  # removed by the reaper should this process be killed
    return folder


def remove_run_folders(run_id: str) -> None:
    """Remove this user's folders of ``run_id``: before a new executor of the run makes its own,
    and when ``resume`` finds the run finished (killed with its reaper after its last commit,
    an executor leaves its folder to whoever looks at the run next)."""
    temp = Path(tempfile.gettempdir())
    for stale in temp.glob(f"opsbook-{glob.escape(run_id)}-*"):
        with contextlib.suppress(OSError):
            if stale.is_dir() and not stale.is_symlink() and stale.stat().st_uid == os.getuid():
                shutil.rmtree(stale, ignore_errors=True)


def release_folder(path: Path) -> None:
    """The folder is removed: the reaper forgets it."""
    with _lock:
        if str(path) in _folders:
            _folders.discard(str(path))
            _tell_if_running(f"!{path}")


def _tell_if_running(line: str) -> None:
    """Tell the reaper, if one runs (one started later is told every folder then)."""
    if _reaper is not None and _reaper.poll() is None:
        _write(_reaper.stdin, line)


def _close_reaper() -> None:
    """At a normal exit: close the reaper's pipe, so it exits (after a clean run nothing is
    listed), and wait for it, so no reaper is left unwaited for. Should a step group still be
    listed, the reaper kills it first: this process then exits after its steps, not before."""
    reaper = _reaper
    if reaper is None or os.getpid() not in _closes_at_exit:
        return
    with contextlib.suppress(OSError, ValueError):
        if reaper.stdin is not None:
            reaper.stdin.close()
    with contextlib.suppress(subprocess.TimeoutExpired, OSError):
        reaper.wait(timeout=grace() + 1)


def terminate_all() -> None:
    """SIGTERM every live step group now (their threads then SIGKILL them after the grace)."""
    for pgid in list(_groups):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGTERM)


def _tell(line: str) -> None:
    global _reaper
    if _reaper is None or _reaper.poll() is not None:
        script = Path(__file__).with_name("reaper.py")
        _reaper = subprocess.Popen(
            [sys.executable, "-I", "-S", str(script), str(grace())],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        if os.getpid() not in _closes_at_exit:
            _closes_at_exit[:] = [os.getpid()]
            atexit.register(_close_reaper)
        for pgid in _groups - {int(line[1:])}:
            _write(_reaper.stdin, f"+{pgid}")
        for folder in _folders:
            _write(_reaper.stdin, f"@{folder}")
    _write(_reaper.stdin, line)


def _write(pipe: IO[bytes] | None, line: str) -> None:
    if pipe is not None:
        with contextlib.suppress(BrokenPipeError, ValueError):
            pipe.write(f"{line}\n".encode())
            pipe.flush()


def kill_stale(attempt: Any, run_id: str) -> str | None:
    """Kill what is left of an interrupted attempt's process group; says what it did, or None.

    Only on the same host and boot, and only when a process of that group still carries this
    run's and step's ids in its environment (a reused group id is left alone).
    """
    pgid = getattr(attempt, "pgid", None)
    if not pgid or attempt.host != host() or attempt.boot_id != boot_id():
        return None
    members = _members(int(pgid), run_id, attempt.step_id)
    if not members:
        return None
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(int(pgid), signal.SIGTERM)
    deadline = time.monotonic() + grace()
    while time.monotonic() < deadline and _members(int(pgid), run_id, attempt.step_id):
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(int(pgid), signal.SIGKILL)
    return f"killed {len(members)} leftover process(es) of its previous attempt (group {pgid})"


def _members(pgid: int, run_id: str, step_id: str) -> list[int]:
    """Processes of group ``pgid`` started for this run's step (read from /proc)."""
    found = []
    marks = (f"OPSBOOK_RUN_ID={run_id}".encode(), f"OPSBOOK_STEP_ID={step_id}".encode())
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if os.getpgid(int(entry.name)) != pgid:
                continue
            env = (entry / "environ").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if all(mark in env for mark in marks):
            found.append(int(entry.name))
    return found
