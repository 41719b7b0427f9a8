"""Seed 003's five alert rules over a recorded day of JSON logs, at exact evaluation times.

The logs are written by tests/loggen.py (deterministic); each incident of the day makes one rule
go pending, fire and resolve. The expected times follow from the windows: e.g. the error-rate
incident starts at 09:00, so the 5-minute window first holds enough errors at 09:01 (pending),
``for: 2m`` makes it fire at 09:03, and the window is clean again at 09:15 (the incident ended
at 09:10).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_cli
from monitor_support import as_expected, at, project_with_logs, seed_rules_day, stored_transitions
from opsbook.monitor.replay import replay
from opsbook.spec.loader import load_spec

EXPECTED = [
    ("09:01", "high_error_rate", "alert.pending"),
    ("09:03", "high_error_rate", "alert.firing"),
    ("09:15", "high_error_rate", "alert.resolved"),
    ("10:01", "slow_responses", "alert.pending"),
    ("10:06", "slow_responses", "alert.firing"),
    ("10:30", "slow_responses", "alert.resolved"),
    ("11:01", "db_connections", "alert.pending"),
    ("11:06", "db_connections", "alert.firing"),
    ("11:16", "db_connections", "alert.resolved"),
    ("12:03", "payment_failures", "alert.firing"),
    ("12:13", "payment_failures", "alert.resolved"),
    ("12:35", "agent_errors", "alert.firing"),
    ("12:51", "agent_errors", "alert.resolved"),
]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shop with seed 003's rules and the recorded day (written once for the module)."""
    return project_with_logs(tmp_path_factory.mktemp("shop"), "seed_rules.yaml", seed_rules_day())


def test_replay_gives_each_rule_pending_firing_resolved_at_the_right_minute(project: Path) -> None:
    result = replay(load_spec(project / "opsbook.yaml"), at("08:00"), at("13:00"), 60)
    assert as_expected(result.transitions) == EXPECTED


@pytest.mark.timeout(120)  # an evaluation per transition, each on a reopened store: ~30 s, 2 cores
def test_stored_evaluations_with_a_restart_before_each_give_the_same_transitions(
    project: Path, tmp_path: Path
) -> None:
    """Each evaluation opens the store anew (as a new process would): the stored pending and
    firing states carry the rules across, so the transitions equal the in-memory replay's."""
    loaded = load_spec(project / "opsbook.yaml")
    url = f"sqlite:///{tmp_path / 'state.db'}"
    # Every minute around each incident (nothing can change between them, as the replay shows).
    ranges = [("08:58", "09:17"), ("09:59", "10:32"), ("10:59", "11:18"), ("11:59", "12:53")]
    changes = stored_transitions(loaded, url, ranges)
    assert as_expected(changes) == EXPECTED


def test_monitor_eval_commands_continue_each_other_and_exit_1_when_firing(project: Path) -> None:
    first = run_cli("monitor", "eval", "--now", "2026-11-30T09:01:00Z", "--json", cwd=project)
    assert first.returncode == 0, first.stderr
    states = {a["alert"]: a["state"] for a in json.loads(first.stdout)["alerts"]}
    assert states["high_error_rate"] == "pending"
    second = run_cli("monitor", "eval", "--now", "2026-11-30T09:03:00Z", cwd=project)
    assert second.returncode == 1
    row = next(line for line in second.stdout.splitlines() if line.startswith("high_error_rate"))
    assert row.split()[1:3] == ["firing", "critical"]
    assert "1 alert firing" in second.stderr
    shown = run_cli("alerts", "--json", cwd=project)
    firing = [a for a in json.loads(shown.stdout) if a["state"] == "firing"]
    assert [a["alert"] for a in firing] == ["high_error_rate"]
    assert firing[0]["firing_since"] == "2026-11-30T09:03:00Z"
