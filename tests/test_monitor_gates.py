"""Releases use monitoring: `check: no-firing-alerts` and `check: slo-budget` as pre-flight
gates, and the `monitor` step that fails (so the run rolls back) when a watched alert fires.

The gates and the step read the real current time, so their logs are written by the generator
around the real clock (the content is the same every run, shifted to now).
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from conftest import run_cli
from loggen import Incident, Traffic, write
from monitor_support import FIXTURES
from opsbook.clock import utcnow

RUNBOOKS = """
environments:
  local: {}
checks:
  quiet: {no-firing-alerts: [high_error_rate]}
  budget: {slo-budget: {slo: availability, min: 10%}}
slos:
  availability:
    sli: {bad: server_errors, total: requests}
    objective: 99.5%
    window: 1d
runbooks:
  release:
    steps:
      - {id: preflight, check: [quiet]}
      - {id: deploy, run: echo deployed}
  budget-gate:
    steps:
      - {id: preflight, check: [budget]}
  watched:
    steps:
      - {id: deploy, run: echo deployed, rollback: echo rolled back}
      - {id: watch, monitor: {alerts: [high_error_rate], for: 3s, every: 1s}}
"""
EXTRA_METRICS = """\
  requests: {from: app_logs, over: 5m, value: "count(*) FILTER (WHERE event = 'request')"}
  server_errors:
    from: app_logs
    over: 5m
    value: "count(*) FILTER (WHERE event = 'request' AND status >= 500)"
"""


def _project(root: Path, error_rate: float, ago: int = 30, minutes: int = 10) -> Path:
    """Logs of the last hour up to the real now; errors at ``error_rate`` from ``ago`` minutes
    ago for ``minutes``."""
    spec = (FIXTURES / "seed_rules.yaml").read_text()
    spec = spec.replace("metrics:\n", "metrics:\n" + EXTRA_METRICS, 1)
    spec = spec.replace(
        "high_error_rate: {when: error_rate > 5%, for: 2m",
        "high_error_rate: {when: error_rate > 5%, for: 0m",
    )
    (root / "opsbook.yaml").write_text(spec + RUNBOOKS)
    now = utcnow().replace(microsecond=0)
    start = now - timedelta(minutes=60)
    traffic = Traffic(
        start,
        60,
        error_rate=0.001,
        incidents=[Incident(now - timedelta(minutes=ago), minutes, error_rate=error_rate)],
    )
    write(root / "logs" / "app.jsonl", traffic)
    return root


def test_no_firing_alerts_gate_refuses_a_release_while_an_alert_fires(tmp_path: Path) -> None:
    project = _project(tmp_path, error_rate=0.4)
    during = (utcnow() - timedelta(minutes=24)).strftime("%Y-%m-%dT%H:%M:%SZ")
    fired = run_cli("monitor", "eval", "--now", during, cwd=project)
    assert fired.returncode == 1, fired.stdout + fired.stderr
    refused = run_cli("run", "release", "-e", "local", cwd=project)
    assert refused.returncode == 1
    assert "alert high_error_rate is firing" in refused.stdout + refused.stderr
    calm = run_cli("monitor", "eval", "--json", cwd=project)  # the last 5 minutes are clean
    states = {a["alert"]: a for a in json.loads(calm.stdout)["alerts"]}
    assert states["high_error_rate"]["state"] == "inactive"
    assert states["high_error_rate"]["resolved_at"] is not None
    allowed = run_cli("run", "release", "-e", "local", cwd=project)
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr


def test_slo_budget_gate_refuses_when_the_budget_is_spent(tmp_path: Path) -> None:
    spent = (
        _project(tmp_path / "spent", error_rate=0.4)
        if (tmp_path / "spent").mkdir() is None
        else None
    )
    assert spent is not None
    refused = run_cli("run", "budget-gate", "-e", "local", cwd=spent)
    assert refused.returncode == 1
    assert "error budget left, below 10%" in refused.stdout + refused.stderr
    (tmp_path / "fine").mkdir()
    fine = _project(tmp_path / "fine", error_rate=0.0)
    allowed = run_cli("run", "budget-gate", "-e", "local", cwd=fine)
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr


def test_monitor_step_fails_and_rolls_back_when_the_alert_fires(tmp_path: Path) -> None:
    (tmp_path / "bad").mkdir()
    bad = _project(tmp_path / "bad", error_rate=0.4, ago=10, minutes=15)
    failed = run_cli("run", "watched", "-e", "local", cwd=bad)
    assert failed.returncode == 1
    out = failed.stdout + failed.stderr
    assert "alert high_error_rate fired" in out
    assert "rolled back" in out
    (tmp_path / "good").mkdir()
    good = _project(tmp_path / "good", error_rate=0.0)
    passed = run_cli("run", "watched", "-e", "local", cwd=good)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "no alert fired in 3s" in passed.stdout + passed.stderr
