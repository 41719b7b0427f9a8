"""``run``: a shell command, in its own process group so a timeout or an abort kills it all."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opsbook.steps.base import StepContext, StepKind, StepResult

KILL_GRACE_ENV = "OPSBOOK_KILL_GRACE"
"""Seconds between SIGTERM and SIGKILL of a step's process group (default 5)."""


@dataclass
class ShellResult:
    exit_code: int
    timed_out: bool
    cancelled: bool


def run_shell(
    command: str,
    *,
    cwd: Path,
    env: Mapping[str, str],
    log: Callable[[str], None],
    timeout: float | None,
    cancelled: threading.Event,
) -> ShellResult:
    """Run ``sh -c command``, streaming each output line to ``log``.

    The command gets its own session (process group): on timeout or cancellation the whole
    group gets SIGTERM, then SIGKILL after the grace period, so children started with ``&``
    die too.
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
    finished = threading.Event()
    why: list[str] = []
    watcher = threading.Thread(
        target=_watch, args=(proc, finished, cancelled, timeout, why), daemon=True
    )
    watcher.start()
    assert proc.stdout is not None
    reader = threading.Thread(target=_read, args=(proc.stdout, log), daemon=True)
    reader.start()
    code = proc.wait()
    finished.set()
    # A background child that keeps the pipe open must not hold the step: stop reading after
    # a moment (its later output is lost, the step is done).
    reader.join(timeout=1.0)
    return ShellResult(code, timed_out="timeout" in why, cancelled="cancelled" in why)


def _read(stream: Any, log: Callable[[str], None]) -> None:
    with stream:
        for raw in stream:
            log(raw.decode("utf-8", "replace").rstrip("\r\n"))


def _watch(
    proc: subprocess.Popen[bytes],
    finished: threading.Event,
    cancelled: threading.Event,
    timeout: float | None,
    why: list[str],
) -> None:
    deadline = None if timeout is None else time.monotonic() + timeout
    while not finished.wait(0.05):
        if cancelled.is_set():
            why.append("cancelled")
            break
        if deadline is not None and time.monotonic() >= deadline:
            why.append("timeout")
            break
    else:
        return
    kill_group(proc)


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
    """``key=value`` lines of the $OPSBOOK_OUTPUT file (later lines win)."""
    if path is None or not path.is_file():
        return {}
    outputs: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
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
        command = ctx.render(config)
        cwd = ctx.root / ctx.step.dir if ctx.step.dir else ctx.root
        result = run_shell(
            command, cwd=cwd, env=ctx.env, log=ctx.log, timeout=ctx.timeout, cancelled=ctx.cancelled
        )
        outputs = read_outputs(ctx.output_file)
        if result.timed_out:
            message = f"timed out after {ctx.timeout:g}s; its process group was killed"
            return StepResult(ok=False, exit_code=result.exit_code, message=message)
        if result.cancelled:
            return StepResult(ok=False, exit_code=result.exit_code, message="cancelled")
        ok = result.exit_code == 0
        message = "" if ok else f"exit code {result.exit_code}"
        return StepResult(ok=ok, outputs=outputs, exit_code=result.exit_code, message=message)
