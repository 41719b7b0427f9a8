"""Helpers for the engine tests: a project in a temp dir, the CLI against a given store, reading
the store back, and crashing a process the way a power cut would."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import textwrap
from pathlib import Path
from typing import Any

from sqlalchemy import select

import forked
from conftest import run_cli
from opsbook.store import open_store, schema

FAST = {"OPSBOOK_LEASE_SECONDS": "1", "OPSBOOK_KILL_GRACE": "1", "OPSBOOK_OPERATOR": "tester"}


def project(tmp: Path, yaml: str, env_file: str | None = None) -> Path:
    """A project directory holding opsbook.yaml (and .env.local when given)."""
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "opsbook.yaml").write_text(textwrap.dedent(yaml))
    if env_file is not None:
        (tmp / ".env.local").write_text(env_file)
    return tmp


def cli(root: Path, store_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run opsbook in ``root`` against ``store_url``."""
    return run_cli(*args, cwd=root, env={**FAST, "OPSBOOK_DATABASE_URL": store_url, **env})


def popen(
    root: Path, store_url: str, *args: str, fresh: bool = False, **env: str
) -> subprocess.Popen[str]:
    """Start opsbook in ``root`` against ``store_url``, with its stdout and stderr piped: a child
    forked from the test process (see ``forked``), or with ``fresh=True`` (or
    ``OPSBOOK_TEST_FORK=0``) a new ``python -m opsbook``."""
    full = {**os.environ, "NO_COLOR": "1", **FAST, "OPSBOOK_DATABASE_URL": store_url, **env}
    return forked.opsbook(
        list(args),
        fresh=fresh,
        cwd=root,
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def rows(store_url: str, table: Any, **where: Any) -> list[Any]:
    store = open_store(store_url)
    try:
        query = select(table)
        for key, value in where.items():
            query = query.where(table.c[key] == value)
        with store.begin() as conn:
            return list(conn.execute(query).all())
    finally:
        store.close()


def runs(store_url: str) -> list[Any]:
    return sorted(rows(store_url, schema.runs), key=lambda r: r.created_at)


def only_run(store_url: str) -> Any:
    found = runs(store_url)
    assert len(found) == 1, found
    return found[0]


def step_status(store_url: str, run_id: str) -> dict[str, str]:
    return {r.step_id: r.status for r in rows(store_url, schema.steps, run_id=run_id)}


def dump_store(store_url: str) -> str:
    """Every row of every opsbook table, as text (to grep for secrets)."""
    parts = []
    for table in schema.metadata.sorted_tables:
        for row in rows(store_url, table):
            parts.append(json.dumps([str(v) for v in row], ensure_ascii=False))
    return "\n".join(parts)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            found.append(int(entry.name))
    return found


def crash(proc: subprocess.Popen[str]) -> None:
    """Kill opsbook and everything it started at once, as a machine crash would.

    opsbook is frozen first (SIGSTOP) so it cannot start another step while its children are
    found; each step runs in its own process group, killed whole.
    """
    try:
        os.kill(proc.pid, signal.SIGSTOP)
    except ProcessLookupError:
        proc.communicate()
        return
    for child in _children(proc.pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()


def pid_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def on_pty(
    args: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    answers: list[tuple[str, str]] | None = None,
    fresh: bool = False,
) -> tuple[int, str]:
    """Run opsbook on a real pty until it exits: its exit code and everything the screen got.
    When the screen shows each ``(prompt, answer)``'s prompt, the answer is typed (and the
    prompt marked ``<prompt>`` so it is answered once). ``fresh``: a new interpreter, for
    what is decided when the process starts (Rich looks for a terminal as its console is made)."""
    import select
    import time

    master, slave = os.openpty()
    proc = forked.opsbook(
        args, fresh=fresh, cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave, close_fds=True
    )
    os.close(slave)
    screen = ""
    pending = list(answers or [])
    deadline = time.monotonic() + 60  # a bound on a hung test, not a timing assertion
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 65536).decode(errors="replace")
            except OSError:  # the pty closed: opsbook exited
                break
            if not chunk:
                break
            screen += chunk
        if pending and pending[0][0] in screen:
            prompt, answer = pending.pop(0)
            screen = screen.replace(prompt, f"<{prompt}>", 1)
            os.write(master, answer.encode() + b"\n")
        if proc.poll() is not None and not ready:
            break
    os.close(master)
    return proc.wait(timeout=30), screen
