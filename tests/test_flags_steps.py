"""`flag` steps in real runs: a failed release restores the flags its steps changed; a flag
rollout guarded by an alert over replayed logs pauses by itself when the alert fires, and goes
on or rolls back on a human's word."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.conftest import FIXTURES, run_cli

FLAGS = """\
version: 1
project: shop
environments:
  local: {}
flags:
  new-checkout: {default: false, rollout: {percent: 0, stickiness: userId}}
  trustedDevice: {default: true}
"""

RELEASE = (
    FLAGS
    + """\
runbooks:
  release:
    steps:
      - id: checkout-on
        flag: {key: new-checkout, percent: 50, reason: release 2}
      - id: devices-off
        flag: {key: trustedDevice, on: false}
      - id: smoke
        run: exit 1
"""
)

GUARDED = (
    FLAGS
    + """\
sources:
  app_logs: {logs: "logs/*.jsonl"}
metrics:
  error_rate: {from: app_logs, over: 5m, value: "avg(CASE WHEN level = 'error' THEN 1 ELSE 0 END)"}
alerts:
  checkout_errors: {when: error_rate > 5%}
runbooks:
  rollout:
    steps:
      - id: checkout
        flag:
          key: new-checkout
          steps: [10, 25, 50, 100]
          pause: 1s
          guard: {alert: checkout_errors, every: 200ms}
"""
)


def show(root: Path, key: str) -> dict[str, object]:
    done = run_cli("flag", "show", key, "--json", cwd=root)
    assert done.returncode == 0, done.stderr
    shown: dict[str, object] = json.loads(done.stdout)
    return shown


def replay_logs(root: Path, fixture: str) -> None:
    """Write a recorded log fixture with its times re-based on now (see fixtures/flags)."""
    now = time.time()
    lines = []
    for line in (FIXTURES / "flags" / fixture).read_text().splitlines():
        record = json.loads(line)
        record["ts"] = now + record.pop("offset_s")
        lines.append(json.dumps(record))
    (root / "logs").mkdir(exist_ok=True)
    (root / "logs" / "app.jsonl").write_text("\n".join(lines) + "\n")


def test_a_failed_release_restores_the_flags_its_steps_changed(tmp_path: Path) -> None:
    (tmp_path / "opsbook.yaml").write_text(RELEASE)
    run_cli("flag", "set", "new-checkout", "--percent", "5", cwd=tmp_path)
    done = run_cli("run", "release", "-e", "local", "--yes", cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "rolled back: devices-off, checkout-on" in done.stdout + done.stderr
    checkout, devices = show(tmp_path, "new-checkout"), show(tmp_path, "trustedDevice")
    assert (checkout["enabled"], checkout["percent"]) == (True, 5)
    assert devices["enabled"] is True
    history = json.loads(run_cli("flag", "history", "new-checkout", "--json", cwd=tmp_path).stdout)
    assert [h["after"]["percent"] for h in history] == [5, 50, 5]
    assert history[0]["run_id"] and history[0]["reason"].startswith("rollback of run")
    assert history[1]["reason"] == "release 2"


def test_a_healthy_flag_rollout_reaches_100(tmp_path: Path) -> None:
    (tmp_path / "opsbook.yaml").write_text(GUARDED)
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "app.jsonl").write_text(
        json.dumps({"ts": time.time() - 30, "level": "info"}) + "\n"
    )
    done = run_cli("run", "rollout", "-e", "local", "--yes", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    shown = show(tmp_path, "new-checkout")
    assert (shown["enabled"], shown["percent"]) == (True, 100)
    history = json.loads(run_cli("flag", "history", "new-checkout", "--json", cwd=tmp_path).stdout)
    assert [h["after"]["percent"] for h in reversed(history)] == [10, 25, 50, 100]


def test_the_guard_pauses_the_rollout_and_a_human_decides(tmp_path: Path) -> None:
    (tmp_path / "opsbook.yaml").write_text(GUARDED)
    replay_logs(tmp_path, "checkout-errors.jsonl")
    # No --yes (which answers questions in unprotected environments) and no terminal: the
    # fired guard waits for a human.
    done = run_cli("run", "rollout", "-e", "local", cwd=tmp_path)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "guard checkout_errors fired at 10%" in done.stdout + done.stderr
    assert show(tmp_path, "new-checkout")["percent"] == 10
    run_id = json.loads(run_cli("runs", "--json", cwd=tmp_path).stdout)[0]["id"]
    rejected = run_cli("approve", run_id, "checkout", "--reject", cwd=tmp_path)
    assert rejected.returncode == 0, rejected.stdout + rejected.stderr
    resumed = run_cli("resume", run_id, cwd=tmp_path)
    assert resumed.returncode == 1, resumed.stdout + resumed.stderr
    shown = show(tmp_path, "new-checkout")
    assert (shown["enabled"], shown["percent"]) == (True, 0)


SLO_GUARDED = (
    FLAGS
    + """\
sources:
  app_logs: {logs: "logs/*.jsonl"}
metrics:
  checkout_requests:
    from: app_logs
    over: 5m
    value: "count(*) FILTER (WHERE route = '/checkout')"
  checkout_errors:
    from: app_logs
    over: 5m
    value: "count(*) FILTER (WHERE route = '/checkout' AND level = 'error')"
slos:
  checkout-availability:
    sli: {bad: checkout_errors, total: checkout_requests}
    objective: 99.5%
    window: 1d
    step: 1m
    alerts: [{long: 15m, short: 5m, factor: 14.4, severity: page}]
runbooks:
  rollout:
    steps:
      - id: checkout
        flag:
          key: new-checkout
          steps: [10, 25, 50, 100]
          pause: 1s
          guard: {slo: checkout-availability, every: 200ms}
"""
)


def test_an_slo_guard_pauses_when_replayed_logs_burn_the_budget_fast(tmp_path: Path) -> None:
    (tmp_path / "opsbook.yaml").write_text(SLO_GUARDED)
    replay_logs(tmp_path, "checkout-errors.jsonl")
    done = run_cli("run", "rollout", "-e", "local", cwd=tmp_path)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "guard checkout-availability:page fired at 10%" in done.stdout + done.stderr
    assert show(tmp_path, "new-checkout")["percent"] == 10


def test_an_slo_guard_stays_quiet_while_the_budget_holds(tmp_path: Path) -> None:
    (tmp_path / "opsbook.yaml").write_text(SLO_GUARDED)
    (tmp_path / "logs").mkdir()
    now = time.time()
    quiet = [{"ts": now - 10 * i, "level": "info", "route": "/checkout"} for i in range(20)]
    (tmp_path / "logs" / "app.jsonl").write_text("\n".join(json.dumps(r) for r in quiet) + "\n")
    done = run_cli("run", "rollout", "-e", "local", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert show(tmp_path, "new-checkout")["percent"] == 100
