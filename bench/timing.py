"""Timing helpers shared by the benchmarks: wall time of a command, best of several rounds."""

from __future__ import annotations

import compileall
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"


def byte_compiled() -> None:
    """Write opsbook's bytecode (``__pycache__``), as ``pip install`` does for an installed
    package. A checkout run with PYTHONDONTWRITEBYTECODE set (CI, these machines) has none:
    every command would then compile each module it imports from source, about a fifth of
    ``opsbook validate``'s time, which no user's install pays."""
    compileall.compile_dir(SRC, quiet=2)


def timed(
    cmd: Sequence[str], cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> float:
    """Seconds one run of ``cmd`` took (its output discarded; a failure raises)."""
    start = time.perf_counter()
    subprocess.run(
        list(cmd),
        cwd=cwd,
        env=None if env is None else dict(env),
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def best_of(
    commands: Mapping[str, Sequence[str]],
    rounds: int,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, float]:
    """The fastest of ``rounds`` runs of each command, the commands interleaved in each round
    so that a busy moment of the machine slows them all alike."""
    best = {name: float("inf") for name in commands}
    for _ in range(rounds):
        for name, cmd in commands.items():
            best[name] = min(best[name], timed(cmd, cwd, env))
    return best
