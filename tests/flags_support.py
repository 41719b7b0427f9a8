"""Helpers for flag and rollout tests: free ports, bounded waits, `opsbook flags serve`."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pytest

import forked
from waiting import wait_until

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 20.0) -> T:
    """Call probe until it returns something other than None (tests/waiting.py's wait_until)."""

    def boxed() -> tuple[T] | None:
        value = probe()
        return None if value is None else (value,)

    return wait_until(boxed, timeout, interval=0.05, what=what)[0]


def port_open(port: int) -> bool | None:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return None


@contextmanager
def flags_server(
    root: Path, port: int, env: dict[str, str] | None = None, *args: str
) -> Iterator[str]:
    """`opsbook flags serve` for the project in root; yields its base URL; stopped after."""
    proc = forked.opsbook(
        ["flags", "serve", "--port", str(port), *args],
        cwd=root,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def up() -> bool | None:
            if proc.poll() is not None:
                err = proc.stderr.read() if proc.stderr else ""
                pytest.fail(f"flags serve exited {proc.returncode}: {err}")
            return port_open(port)

        wait_for(f"opsbook flags serve on port {port}", up)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()


def stop(proc: subprocess.Popen[str] | subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 10 seconds; reaped either way."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
