"""A rollout against the example shop behind its weighted proxy, all real processes on
127.0.0.1: a healthy canary goes 10 → 50 → 100; a canary answering 5xx at 10% sends traffic back
to 0% and runs the rollback; `kill -9` at 50% and `opsbook resume` continue from 50%."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import REPO, run_cli
from tests.flags_support import free_port, port_open, stop, wait_for

import forked

pytestmark = pytest.mark.slow
SHOP = REPO / "examples" / "shop"
PROXY = SHOP / "app" / "proxy.py"

RUNBOOK = """\
version: 1
project: canary
environments:
  local: {{}}
runbooks:
  canary:
    steps:
      - id: canary
        env: {{PROXY_PORT: "{proxy}", PROXY_WEIGHT_FILE: "{weights}"}}
        rollout:
          set: {python} {proxy_py} weight {{percent}} && echo {{percent}} >> set.log
          steps: [10, 50, 100]
          pause: {pause}
          analysis:
            count: 1
            metrics:
              - name: canary-5xx
                command: {python} {proxy_py} probe 100
                success: "result < 0.05"
                failure: "result >= 0.05"
        rollback: echo rolled back > rolled-back.txt
"""


@contextmanager
def processes(*commands: tuple[list[str], dict[str, str]]) -> Iterator[None]:
    procs = [
        subprocess.Popen(
            cmd,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for cmd, env in commands
    ]
    try:
        yield
    finally:
        for proc in procs:
            stop(proc)


@contextmanager
def shop_behind_proxy(
    tmp: Path, *, canary_fails: bool, log: Path | None = None
) -> Iterator[dict[str, str]]:
    """Shop version 1 (stable) and 2 (canary) and the proxy in front of them; with ``log``
    both versions write their JSON request lines there (each line names its version)."""
    stable, canary, proxy = free_port(), free_port(), free_port()
    weights = tmp / "weight"
    subprocess.run(
        [
            sys.executable,
            str(SHOP / "app" / "shopdb.py"),
            "migrate",
            str(tmp / "shop.db"),
            str(SHOP / "migrations"),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    base = {"DATABASE_PATH": str(tmp / "shop.db"), "SHOP_QUIET": "1"}
    if log is not None:
        base = {"DATABASE_PATH": str(tmp / "shop.db"), "SHOP_LOG": str(log)}
    server = [sys.executable, str(SHOP / "app" / "server.py")]
    canary_env = {**base, "SHOP_PORT": str(canary), "SHOP_VERSION": "2"}
    if canary_fails:
        canary_env["SHOP_SIMULATE"] = "payments=unavailable"
    proxy_env = {
        "PROXY_PORT": str(proxy),
        "SHOP_PORT": str(stable),
        "CANARY_PORT": str(canary),
        "PROXY_WEIGHT_FILE": str(weights),
    }
    with processes(
        (server, {**base, "SHOP_PORT": str(stable), "SHOP_VERSION": "1"}),
        (server, canary_env),
        ([sys.executable, str(PROXY), "serve"], proxy_env),
    ):
        for port in (stable, canary, proxy):
            wait_for(f"port {port}", lambda p=port: port_open(p))
        yield {"proxy": str(proxy), "weights": str(weights)}


def write_runbook(tmp: Path, ports: dict[str, str], pause: str) -> None:
    text = RUNBOOK.format(python=sys.executable, proxy_py=PROXY, pause=pause, **ports)
    (tmp / "opsbook.yaml").write_text(text)


def progress(tmp: Path, run_id: str) -> list[dict[str, object]]:
    shown = run_cli("show", run_id, "--json", cwd=tmp)
    events = json.loads(shown.stdout)["events"]
    return [
        json.loads(e["data"]) if isinstance(e["data"], str) else e["data"]
        for e in events
        if e["type"] == "rollout_progress"
    ]


def paused_at(tmp: Path, percent: int) -> bool | None:
    """Whether the store holds the rollout's pause at percent (read as any SQLite reader)."""
    db = tmp / ".opsbook" / "state.db"
    if not db.exists():
        return None
    with contextlib.closing(sqlite3.connect(db, timeout=5)) as conn:
        try:
            rows = conn.execute(
                "SELECT data FROM opsbook_events WHERE type = 'rollout_progress'"
            ).fetchall()
        except sqlite3.OperationalError:  # not created yet
            return None
    done = any(
        json.loads(r[0]) == {**json.loads(r[0]), "phase": "pause", "percent": percent} for r in rows
    )
    return True if done else None


def set_log(tmp: Path) -> list[str]:
    return (tmp / "set.log").read_text().split()


def _stats(port: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_proxy/stats", timeout=10) as reply:
        return dict(json.load(reply))


def test_the_proxy_sends_exactly_the_weight_to_the_canary(tmp_path: Path) -> None:
    """A counted split, not a random one: a random 10% misses the canary in 50 requests about
    once in 200 tries, and an analysis then reads "no data" where the canary fails."""
    with shop_behind_proxy(tmp_path, canary_fails=True) as ports:
        env = {**os.environ, "PROXY_PORT": ports["proxy"], "PROXY_WEIGHT_FILE": ports["weights"]}
        for weight, sent, canary in (("10", 50, 5), ("50", 20, 10), ("0", 10, 0), ("100", 7, 7)):
            cmd = [sys.executable, str(PROXY), "weight", weight]
            subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=30)
            backends = []
            for _ in range(sent):
                try:
                    with urllib.request.urlopen(
                        f"http://127.0.0.1:{ports['proxy']}/api/health", timeout=10
                    ) as reply:
                        backends.append(reply.headers["X-Backend"])
                except urllib.error.HTTPError as err:  # the failing canary answers 503
                    backends.append(err.headers["X-Backend"])
            stats = _stats(ports["proxy"])
            assert backends.count("canary") == canary, (weight, backends)
            assert stats["canary"]["requests"] == canary and stats["canary"]["errors"] == canary
            assert stats["stable"]["requests"] == sent - canary, stats


def test_a_healthy_canary_goes_10_50_100(tmp_path: Path) -> None:
    with shop_behind_proxy(tmp_path, canary_fails=False) as ports:
        write_runbook(tmp_path, ports, "0s")
        done = run_cli(
            "run", "canary", "-e", "local", "--yes", cwd=tmp_path, env={"OPSBOOK_OPERATOR": "ana"}
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert set_log(tmp_path) == ["10", "50", "100"]
        assert Path(ports["weights"]).read_text().strip() == "100"
        assert not (tmp_path / "rolled-back.txt").exists()


def test_a_canary_answering_5xx_goes_back_to_0_and_rolls_back(tmp_path: Path) -> None:
    with shop_behind_proxy(tmp_path, canary_fails=True) as ports:
        write_runbook(tmp_path, ports, "0s")
        done = run_cli("run", "canary", "-e", "local", "--yes", cwd=tmp_path)
        assert done.returncode == 1, done.stdout + done.stderr
        assert set_log(tmp_path) == ["10", "0"]
        assert Path(ports["weights"]).read_text().strip() == "0"
        assert (tmp_path / "rolled-back.txt").read_text().strip() == "rolled back"
        assert "analysis failed at 10%" in done.stdout + done.stderr


# Two opsbook processes, a 6 s pause and a 2 s lease to expire on top of the shop's start.
@pytest.mark.timeout(150)
def test_killed_at_50_it_resumes_at_50(tmp_path: Path) -> None:
    env = {**os.environ, "OPSBOOK_LEASE_SECONDS": "2", "NO_COLOR": "1"}
    with shop_behind_proxy(tmp_path, canary_fails=False) as ports:
        write_runbook(tmp_path, ports, "6s")
        proc = forked.opsbook(
            ["run", "canary", "-e", "local", "--yes"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            wait_for("the rollout to pause at 50%", lambda: paused_at(tmp_path, 50), timeout=90)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        assert set_log(tmp_path) == ["10", "50"]
        run_id = json.loads(run_cli("runs", "--json", cwd=tmp_path).stdout)[0]["id"]
        resumed = run_cli("resume", run_id, cwd=tmp_path, env={"OPSBOOK_LEASE_SECONDS": "2"})
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert "continuing at 50%" in resumed.stdout
        assert set_log(tmp_path) == ["10", "50", "100"]
        percents = [e["percent"] for e in progress(tmp_path, run_id) if e["phase"] == "set"]
        assert percents == [10, 50, 100]
