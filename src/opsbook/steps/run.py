"""``run``: a shell command, in its own process group so a timeout or an abort kills it all."""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opsbook import proclife, shellsafe
from opsbook.masking import SplitGuard
from opsbook.steps.base import StepContext, StepKind, StepResult

KILL_GRACE_ENV = "OPSBOOK_KILL_GRACE"
"""Seconds between SIGTERM and SIGKILL of a step's process group (default 5)."""


@dataclass
class ShellResult:
    exit_code: int
    timed_out: bool
    cancelled: bool
    error: str = ""
    """Why the command never started (a value that cannot be placed in it)."""


def run_template(
    template: str,
    render: Callable[[str], str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    log: Callable[[str], None],
    timeout: float | None,
    cancelled: threading.Event,
    secrets: Iterable[str] = (),
    on_spawn: Callable[[int], None] | None = None,
) -> ShellResult:
    """Run a ``run:``/``rollback:`` command whose ``${{ }}`` values reach it through ``env``.

    See :mod:`opsbook.shellsafe`: no value is ever read by the shell as code. A secret the
    command prints across two lines is masked on both (:class:`opsbook.masking.SplitGuard`).
    """
    try:
        bound = shellsafe.bind(template, lambda expr: render("${{" + expr + "}}"))
    except shellsafe.ShellValueError as err:
        return ShellResult(2, timed_out=False, cancelled=False, error=str(err))
    guard = SplitGuard(log, secrets)
    try:
        return run_shell(
            bound.command,
            cwd=cwd,
            env={**env, **bound.env},
            log=guard,
            timeout=timeout,
            cancelled=cancelled,
            on_spawn=on_spawn,
        )
    finally:
        guard.flush()


def run_shell(
    command: str,
    *,
    cwd: Path,
    env: Mapping[str, str],
    log: Callable[[str], None],
    timeout: float | None,
    cancelled: threading.Event,
    on_spawn: Callable[[int], None] | None = None,
) -> ShellResult:
    """Run ``sh -c command``, streaming each output line to ``log``.

    The command gets its own session (process group): on timeout or cancellation the whole
    group gets SIGTERM, then SIGKILL after the grace period, so children started with ``&``
    die too. Output is read in this thread with select (no helper threads: starting threads
    cost more than running ``true``); a background child that keeps the pipe open after the
    command exited does not hold the step.
    """
    proc = subprocess.Popen(
        ["/bin/sh", "-c", command],
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert proc.stdout is not None
    proclife.register(proc.pid)  # killed by the reaper should this process die first
    try:
        with _killed_on_error(proc):
            if on_spawn is not None:
                on_spawn(proc.pid)
            return _supervise(proc, log, timeout, cancelled)
    finally:
        proclife.unregister(proc.pid)


def _supervise(
    proc: subprocess.Popen[bytes],
    log: Callable[[str], None],
    timeout: float | None,
    cancelled: threading.Event,
) -> ShellResult:
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    os.set_blocking(fd, False)
    deadline = None if timeout is None else time.monotonic() + timeout
    why: str | None = None
    exited_at: float | None = None
    pending = b""
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            if why is None and cancelled.is_set():
                why = "cancelled"
                kill_group(proc)
            elif why is None and deadline is not None and time.monotonic() >= deadline:
                why = "timeout"
                kill_group(proc)
            if selector.select(timeout=0.05):
                try:
                    chunk = os.read(fd, 65536)
                except BlockingIOError:
                    continue
                if not chunk:
                    break
                *lines, pending = (pending + chunk).split(b"\n")
                for raw in lines:
                    log(raw.decode("utf-8", "replace").rstrip("\r"))
                continue
            if proc.poll() is not None:
                exited_at = exited_at or time.monotonic()
                if time.monotonic() - exited_at > 0.2:
                    break  # a background child holds the pipe; its later output is lost
    if pending:
        log(pending.decode("utf-8", "replace").rstrip("\r"))
    proc.stdout.close()
    code = proc.wait()
    return ShellResult(code, timed_out=why == "timeout", cancelled=why == "cancelled")


@contextmanager
def _killed_on_error(proc: subprocess.Popen[bytes]) -> Iterator[None]:
    """Ctrl-C (and serve's SIGTERM, raised as one) reaches opsbook, not the step (its own
    session): pass it on by killing the group. So does any error while the group is recorded
    or supervised, since the reaper forgets the group right after."""
    try:
        yield
    except BaseException:
        kill_group(proc)
        if proc.stdout is not None:
            proc.stdout.close()
        raise


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, then SIGKILL it after the grace period."""
    grace = float(os.environ.get(KILL_GRACE_ENV, "5"))
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)
    # The leader may be gone while children it started still hold the group.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def read_outputs(path: Path | None) -> dict[str, str]:
    """``key=value`` lines of the $OPSBOOK_OUTPUT file (later lines win); the file is removed.

    It may hold raw secrets, so it lives no longer than the attempt that wrote it.
    """
    if path is None or not path.is_file():
        return {}
    outputs: dict[str, str] = {}
    text = path.read_text(encoding="utf-8", errors="replace")
    path.unlink(missing_ok=True)
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip():
            outputs[key.strip()] = value
    return outputs


class RunStep(StepKind):
    name = "run"
    config_type = str
    changes_things = True
    safe_to_rerun = False

    def execute(self, ctx: StepContext, config: Any) -> StepResult:
        cwd = ctx.root / ctx.step.dir if ctx.step.dir else ctx.root
        result = run_template(
            config,
            ctx.render,
            cwd=cwd,
            env=ctx.env,
            log=ctx.log,
            timeout=ctx.timeout,
            cancelled=ctx.cancelled,
            secrets=ctx.secrets,
            on_spawn=ctx.extra.get("on_spawn"),
        )
        if result.error:
            return StepResult(ok=False, message=result.error)
        outputs = read_outputs(ctx.output_file)
        if result.timed_out:
            message = f"timed out after {ctx.timeout:g}s; its process group was killed"
            return StepResult(ok=False, exit_code=result.exit_code, message=message)
        if result.cancelled:
            return StepResult(ok=False, exit_code=result.exit_code, message="cancelled")
        ok = result.exit_code == 0
        message = "" if ok else f"exit code {result.exit_code}"
        return StepResult(ok=ok, outputs=outputs, exit_code=result.exit_code, message=message)
