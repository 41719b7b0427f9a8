"""Rollouts whose analysis reads the monitoring section: a `logs` metric (the canary's error
rate from the shop's own JSON request lines) and an alert on it, against the example shop
behind its weighted proxy (real processes on 127.0.0.1). Healthy: 10 → 50 → 100; a canary
answering 5xx at 10%: traffic back to 0 and the rollback; no canary traffic (no data): the run
waits for a human (exit 3)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from tests.conftest import run_cli
from tests.test_rollout_shop import PROXY, set_log, shop_behind_proxy

pytestmark = pytest.mark.slow

RUNBOOK = """\
version: 1
project: canary
environments:
  local: {{}}
sources:
  shop_logs: {{logs: "logs/*.jsonl"}}
metrics:
  canary_error_rate:
    from: shop_logs
    over: 1m
    where: "event = 'request' AND version = '2'"
    value: "avg(CASE WHEN status >= 500 THEN 1 ELSE 0 END)"
alerts:
  canary_errors: {{when: canary_error_rate > 5%, for: 0m, severity: critical}}
runbooks:
  canary:
    steps:
      - id: canary
        env: {{PROXY_PORT: "{proxy}", PROXY_WEIGHT_FILE: "{weights}"}}
        rollout:
          set: {set}
          steps: [10, 50, 100]
          analysis:
            metrics:
              - {measure}
        rollback: echo rolled back > rolled-back.txt
"""

BY_METRIC = '{name: error-rate, metric: canary_error_rate, success: "result < 0.05"}'
BY_ALERT = "{name: no-alert, alert: canary_errors}"


def _write(tmp: Path, ports: dict[str, str], measure: str, *, traffic: bool = True) -> None:
    weight = f"{sys.executable} {PROXY} weight {{percent}} && echo {{percent}} >> set.log"
    probe = f" && {sys.executable} {PROXY} probe 60" if traffic else ""
    text = RUNBOOK.format(set=weight + probe, measure=measure, **ports)
    (tmp / "opsbook.yaml").write_text(text)


def _run(tmp: Path) -> tuple[int, str]:
    done = run_cli("run", "canary", "-e", "local", "--yes", cwd=tmp)
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize("measure", [BY_METRIC, BY_ALERT], ids=["metric", "alert"])
def test_a_healthy_canary_by_its_logs_goes_10_50_100(tmp_path: Path, measure: str) -> None:
    log = tmp_path / "logs" / "shop.jsonl"
    with shop_behind_proxy(tmp_path, canary_fails=False, log=log) as ports:
        _write(tmp_path, ports, measure)
        code, out = _run(tmp_path)
    assert code == 0, out
    assert set_log(tmp_path) == ["10", "50", "100"]
    assert '"version":"2"' in log.read_text()  # the canary's own lines were measured
    assert not (tmp_path / "rolled-back.txt").exists()


@pytest.mark.parametrize("measure", [BY_METRIC, BY_ALERT], ids=["metric", "alert"])
def test_a_canary_with_5xx_in_its_logs_goes_back_to_0_and_rolls_back(
    tmp_path: Path, measure: str
) -> None:
    log = tmp_path / "logs" / "shop.jsonl"
    with shop_behind_proxy(tmp_path, canary_fails=True, log=log) as ports:
        _write(tmp_path, ports, measure)
        code, out = _run(tmp_path)
        weight = Path(ports["weights"]).read_text().strip()
    assert code == 1, out
    assert set_log(tmp_path) == ["10", "0"] and weight == "0"
    assert (tmp_path / "rolled-back.txt").read_text().strip() == "rolled back"
    assert "analysis failed at 10%" in out


def test_no_canary_lines_is_inconclusive_and_waits_for_a_human(tmp_path: Path) -> None:
    """No --yes (which answers questions in unprotected environments) and no terminal: the
    gate waits (exit 3) at 10%; `opsbook approve` and `opsbook resume` go on to 100%."""
    log = tmp_path / "logs" / "shop.jsonl"
    with shop_behind_proxy(tmp_path, canary_fails=False, log=log) as ports:
        _write(tmp_path, ports, BY_METRIC, traffic=False)
        done = run_cli("run", "canary", "-e", "local", cwd=tmp_path)
        out = done.stdout + done.stderr
        assert done.returncode == 3, out
        assert set_log(tmp_path) == ["10"]
        assert "error-rate = no data → inconclusive" in out and "waiting for" in out, out
        run_id = json.loads(run_cli("runs", "--json", cwd=tmp_path).stdout)[0]["id"]
        approved = run_cli("approve", run_id, "canary", cwd=tmp_path)
        assert approved.returncode == 0, approved.stdout + approved.stderr
        resumed = run_cli("resume", run_id, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "going on from 10%: approved by" in resumed.stdout
    assert set_log(tmp_path) == ["10", "50", "100"]
    assert not (tmp_path / "rolled-back.txt").exists()
