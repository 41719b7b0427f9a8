"""Helpers for the serve tests: a project, tokens and users made with the real CLI, and real
`opsbook serve` processes on 127.0.0.1 stopped with SIGTERM afterwards."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

import forked
import waiting
from conftest import run_cli

CHROMIUM = os.environ.get("OPSBOOK_CHROMIUM", "/usr/bin/chromium")
"""Debian's chromium: Playwright drives it and never downloads a browser."""
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def chromium_or_skip() -> None:
    """Skip a browser test (or, called at its top, a whole module) where chromium is missing;
    under CI, which installs it, fail instead."""
    import pytest

    if Path(CHROMIUM).exists():
        return
    if os.environ.get("CI"):
        raise RuntimeError(f"{CHROMIUM} is missing under CI; .ci/run installs Debian's chromium")
    pytest.skip(f"no chromium at {CHROMIUM}", allow_module_level=True)


@contextlib.contextmanager
def browser() -> Iterator[Any]:
    """A headless chromium driven by Playwright, closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


FAST = {
    "OPSBOOK_LEASE_SECONDS": "2",
    "OPSBOOK_KILL_GRACE": "1",
    "OPSBOOK_OPERATOR": "tester",
    "NO_COLOR": "1",
}

PROJECT = """\
version: 1
project: shop
environments:
  local: {}
  production:
    protected: true
runbooks:
  release:
    params: {version: {required: true}}
    steps:
      - id: build
        run: echo building ${{ params.version }}
      - id: window
        gate: [On-call engineer is aware, Status page updated]
      - id: deploy
        run: echo deployed ${{ params.version }}
  quick:
    steps:
      - id: hello
        run: echo hello
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(
    condition: Callable[[], Any], *, timeout: float = 30, every: float = 0.1, what: str = ""
) -> Any:
    """The condition's first truthy value (the suite's one wait helper, tests/waiting.py)."""
    return waiting.wait_until(condition, timeout, interval=every, what=what or str(condition))


def project(root: Path, yaml: str = PROJECT) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "opsbook.yaml").write_text(textwrap.dedent(yaml))
    return root


def make_token(root: Path, store_url: str, role: str, name: str) -> str:
    made = run_cli(
        "token",
        "create",
        "--role",
        role,
        "--name",
        name,
        cwd=root,
        env={**FAST, "OPSBOOK_DATABASE_URL": store_url},
    )
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


def make_user(root: Path, store_url: str, name: str, role: str, password: str) -> None:
    added = run_cli(
        "user",
        "add",
        name,
        "--role",
        role,
        cwd=root,
        env={**FAST, "OPSBOOK_DATABASE_URL": store_url, "OPSBOOK_PASSWORD": password},
    )
    assert added.returncode == 0, added.stderr


@dataclass
class Serve:
    """One running `opsbook serve`."""

    proc: subprocess.Popen[str]
    url: str
    log: Path
    extra: dict[str, Any] = field(default_factory=dict)

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise AssertionError(f"serve did not stop within {timeout}s") from None

    def output(self) -> str:
        return self.log.read_text() if self.log.exists() else ""


def start_serve(root: Path, store_url: str, *extra_args: str, **env: str) -> Serve:
    """Start `opsbook serve` on a free port and wait (bounded) until /healthz answers."""
    port = free_port()
    log = root / f"serve-{port}.log"
    full = {**os.environ, **FAST, "OPSBOOK_DATABASE_URL": store_url, **env}
    with log.open("w") as out:
        proc = forked.opsbook(
            [
                "serve",
                "--port",
                str(port),
                "--poll",
                "0.2",
                *extra_args,
            ],
            cwd=root,
            env=full,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    served = Serve(proc, f"http://127.0.0.1:{port}", log)

    def healthy() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited with {proc.returncode}:\n{served.output()}")
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(f"{served.url}/healthz", timeout=2).status_code == 200
        return False

    try:
        wait_until(healthy, timeout=60, what="serve to answer /healthz")
    except BaseException:
        served.stop(signal.SIGKILL)
        raise
    return served


@contextlib.contextmanager
def serving(root: Path, store_url: str, *args: str, **env: str) -> Iterator[Serve]:
    served = start_serve(root, store_url, *args, **env)
    try:
        yield served
    finally:
        if served.proc.poll() is None:
            served.stop()


def run_status(client: httpx.Client, run_id: str) -> dict[str, Any]:
    reply = client.get(f"/api/v1/runs/{run_id}")
    assert reply.status_code == 200, reply.text
    detail: dict[str, Any] = reply.json()
    return detail


def step_statuses(client: httpx.Client, run_id: str) -> dict[str, str]:
    return {s["step_id"]: s["status"] for s in run_status(client, run_id)["steps"]}


@contextlib.contextmanager
def daemon(cmd: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A server of another project (Prometheus, Alertmanager) with its stderr in ``log``;
    SIGTERM when the block ends, SIGKILL 20 s later, reaped either way."""
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=out)
        try:
            yield proc
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
