"""Two `opsbook serve` processes on one PostgreSQL store share the runs through leases."""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path

import pytest

from engine_support import rows
from opsbook.store import schema
from web_support import make_token, project, run_status, serving, start_serve, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

JOBS = """\
version: 1
project: shop
environments:
  local: {}
runbooks:
  job:
    lock: false
    params: {n: {required: true}}
    steps:
      - id: work
        run: echo "job ${{ params.n }}" >> ran.txt; sleep 0.3
  long:
    steps:
""" + "".join(
    f"      - id: s{i}\n        idempotent: true\n"
    f"        run: echo start s{i} >> long.txt; sleep 1; echo done s{i} >> long.txt\n"
    for i in range(1, 9)
)


def _owners(store_url: str, run_id: str) -> list[str]:
    """The processes (host:pid) that took the run, in order."""
    events = rows(store_url, schema.events, run_id=run_id)
    return [":".join(e.actor.split(":")[:2]) for e in events if e.type == "run_leased"]


def test_twenty_queued_runs_each_execute_once_across_two_serves(
    tmp_path: Path, fresh_pg_url: str
) -> None:
    root = project(tmp_path, JOBS)
    token = make_token(root, fresh_pg_url, "operator", "ops")
    with serving(root, fresh_pg_url) as one, serving(root, fresh_pg_url) as two:
        with one.client(token) as api:
            ids = [
                api.post(
                    "/api/v1/runs", json={"runbook": "job", "env": "local", "params": {"n": str(n)}}
                ).json()["id"]
                for n in range(20)
            ]
        with two.client(token) as api:
            wait_until(
                lambda: all(run_status(api, i)["run"]["status"] == "succeeded" for i in ids),
                timeout=180,
                every=0.5,
                what="20 runs to succeed",
            )
    counts = Counter((root / "ran.txt").read_text().splitlines())
    assert counts == Counter({f"job {n}": 1 for n in range(20)})
    takers = Counter(owner for i in ids for owner in _owners(fresh_pg_url, i))
    assert sum(takers.values()) == 20  # each run leased exactly once
    assert len(takers) == 2, takers  # and both processes worked


def test_killing_a_serve_mid_run_hands_the_run_to_the_other(
    tmp_path: Path, fresh_pg_url: str
) -> None:
    root = project(tmp_path, JOBS)
    token = make_token(root, fresh_pg_url, "operator", "ops")
    servers = [start_serve(root, fresh_pg_url), start_serve(root, fresh_pg_url)]
    try:
        with servers[0].client(token) as api:
            run_id = api.post("/api/v1/runs", json={"runbook": "long", "env": "local"}).json()["id"]
        wait_until(lambda: "done s2" in _read(root / "long.txt"), timeout=60, what="s2 done")
        [taker] = {int(owner.split(":")[1]) for owner in _owners(fresh_pg_url, run_id)}
        victim = next(s for s in servers if s.proc.pid == taker)
        other = next(s for s in servers if s is not victim)
        before = _read(root / "long.txt").splitlines()
        victim.stop(signal.SIGKILL)  # no drain: the other waits for the lease to expire
        with other.client(token) as api:
            wait_until(
                lambda: run_status(api, run_id)["run"]["status"] == "succeeded",
                timeout=120,
                every=0.5,
                what="the other serve to finish the run",
            )
    finally:
        for server in servers:
            if server.proc.poll() is None:
                server.stop()
    lines = _read(root / "long.txt").splitlines()
    done = Counter(line for line in lines if line.startswith("done"))
    # The step in flight when its process died is idempotent and runs again; every other step,
    # finished before the kill or after the takeover, ran exactly once.
    in_flight = {f"done {x[6:]}" for x in before if x.startswith("start")} - set(before)
    assert len(in_flight) <= 1, before
    assert all(done[f"done s{i}"] == 1 for i in range(1, 9) if f"done s{i}" not in in_flight), done
    assert all(done[f"done s{i}"] >= 1 for i in range(1, 9)), done
    owners = _owners(fresh_pg_url, run_id)
    pids = [int(owner.split(":")[1]) for owner in owners]
    assert pids == [victim.proc.pid, other.proc.pid], owners  # taken by one, then the other


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""
