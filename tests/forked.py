"""Run the `opsbook` command in a forked child of the test process.

A fresh interpreter spends most of a short command importing pydantic, SQLAlchemy, Typer and
Rich. A child forked from a test process that has imported them already starts at ``main()``,
yet it is still a process of its own: its own exit code, file descriptors 0/1/2, working
directory, environment and signals, and a crash in it (``os._exit``, a fatal signal) cannot take
the test down. ``run_cli`` uses it for every command that is not run in-process, and ``Popen``
(the crash and signal tests) gives such a child behind ``subprocess.Popen``'s own interface.
``OPSBOOK_TEST_FORK=0`` starts ``python -m opsbook`` everywhere instead, and the tests of the
entry point itself always do.

What the child resets, because a fresh interpreter would not have it: pytest's warning filters
and log handlers, its captured ``sys.stdout``/``sys.stderr``, signal handlers, and the garbage
collector's view of the parent's objects (frozen, so a parent's database connection is never
finalized, and closed on the server, by the child).
"""

from __future__ import annotations

import atexit
import gc
import inspect
import io
import logging
import os
import signal
import subprocess
import sys
import threading
import traceback
import warnings
from pathlib import Path
from typing import Any

FORK = os.environ.get("OPSBOOK_TEST_FORK", "1") != "0"
"""``OPSBOOK_TEST_FORK=0`` runs every out-of-process command in a fresh interpreter."""


def opsbook(args: list[str], *, fresh: bool = False, **kwargs: Any) -> subprocess.Popen[str]:
    """``subprocess.Popen([python, -m, opsbook, *args], **kwargs)``: a forked child (``Popen``
    below) unless ``fresh`` or ``OPSBOOK_TEST_FORK=0``."""
    if FORK and not fresh:
        return Popen(args, **kwargs)
    return subprocess.Popen([sys.executable, "-m", "opsbook", *args], **kwargs)


def preload() -> None:
    """Import what every command imports, once, in the test process."""
    import opsbook.cli.app
    import opsbook.store  # noqa: F401


def run(
    args: tuple[str, ...],
    *,
    cwd: Path | None,
    env: dict[str, str],
    input: str | None,
    timeout: float,
) -> subprocess.CompletedProcess[str]:
    """Like ``subprocess.run([python, -m, opsbook, *args], capture_output=True, text=True)``,
    with the child of :class:`Popen` (undecodable bytes are replaced, not raised)."""
    with Popen(
        list(args),
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
    ) as proc:
        try:
            out, err = proc.communicate(input or "", timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise
    return subprocess.CompletedProcess(["opsbook", *args], proc.returncode, out, err)


class Popen(subprocess.Popen[str]):
    """``subprocess.Popen(["opsbook", *args], ...)`` whose child is forked from this process and
    runs ``main()`` instead of exec'ing a new interpreter. Everything else (pipes, ``wait``,
    ``communicate``, signals, ``start_new_session``) is ``subprocess.Popen``'s own code."""

    def __init__(self, args: list[str], **kwargs: Any) -> None:
        preload()
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        super().__init__(["opsbook", *args], **kwargs)

    def _execute_child(self, args: list[str], *rest: object) -> None:  # type: ignore[override]
        given: dict[str, Any] = dict(zip(_EXECUTE_CHILD, rest, strict=True))
        stdio = (given["p2cread"], given["c2pwrite"], given["errwrite"])
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child ends in os._exit
            for name in ("p2cwrite", "c2pread", "errread"):
                if given[name] != -1:
                    os.close(given[name])
            if given["start_new_session"]:
                os.setsid()
            cwd, env = given["cwd"], given["env"]
            _child(
                tuple(args[1:]),
                Path(cwd) if cwd is not None else None,
                dict(env if env is not None else os.environ),
                stdio,
            )
        self.pid = pid
        self._child_created = True
        self._close_pipe_fds(*(given[name] for name in _PIPES))


_EXECUTE_CHILD = tuple(inspect.signature(subprocess.Popen._execute_child).parameters)[2:]
"""The parameters of ``Popen._execute_child`` after ``self, args``."""
_PIPES = ("p2cread", "p2cwrite", "c2pread", "c2pwrite", "errread", "errwrite")


def _child(
    args: tuple[str, ...], cwd: Path | None, env: dict[str, str], fds: tuple[int, int, int]
) -> None:  # pragma: no cover - runs in the child
    code = 1
    try:
        gc.freeze()
        for number, fd in enumerate(fds):
            if fd not in (-1, number):  # -1: inherited, as subprocess leaves it
                os.dup2(fd, number)
        for fd in set(fds) - {-1, 0, 1, 2}:  # stderr=STDOUT gives one fd twice
            os.close(fd)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM, signal.SIGCHLD):
            handler = signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL
            signal.signal(sig, handler)
        signal.setitimer(signal.ITIMER_REAL, 0)
        if cwd is not None:
            os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)
        _fresh_warning_filters()
        root = logging.getLogger()
        for handler in list(root.handlers):
            root.removeHandler(handler)
        sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False))
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), write_through=False)
        sys.stderr = io.TextIOWrapper(
            io.FileIO(2, "w", closefd=False), write_through=True, errors="backslashreplace"
        )
        sys.argv = ["opsbook", *args]
        from opsbook.cli import main

        atexit._clear()  # the parent's handlers are not this process's
        try:
            main()
            code = 0
        except SystemExit as done:
            code = _exit_code(done.code)
        threading._shutdown()  # type: ignore[attr-defined]  # as the interpreter does at exit
        atexit._run_exitfuncs()
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _fresh_warning_filters() -> None:  # pragma: no cover - runs in the child
    """CPython's default filters (pytest's own, such as "error", are the parent's)."""
    warnings.resetwarnings()
    for category in (ResourceWarning, ImportWarning, PendingDeprecationWarning):
        warnings.simplefilter("ignore", category)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("default", category=DeprecationWarning, module="__main__")
    for option in os.environ.get("PYTHONWARNINGS", "").split(","):
        if option:
            warnings._setoption(option)  # type: ignore[attr-defined]


def _exit_code(value: object) -> int:
    """What the interpreter makes of ``SystemExit(value)``."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFF
    print(value, file=sys.stderr)
    return 1
