"""Seed 002's four SLOs over two recorded days of JSON logs, at exact evaluation times.

The days (tests/monitor_support.py) hold one incident per SLO, on Monday 30 November 2026, and
an outage on Sunday morning. Each SLO's burn-rate alert goes pending, fires (``for: 2m``) and
resolves at the minute its windows say; the Sunday outage is outside Kigali business hours, so
the business-hours availability SLO neither pages nor spends budget for it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from conftest import run_cli
from monitor_support import SLO_START, project_with_logs, seed_slos_days
from opsbook.monitor.evaluate import evaluate
from opsbook.monitor.replay import replay
from opsbook.monitor.slo import slo_statuses
from opsbook.spec.loader import load_spec
from opsbook.store import open_store

EXPECTED = [
    ("05:02", "login-success:page", "alert.pending"),
    ("05:04", "login-success:page", "alert.firing"),
    ("05:25", "login-success:page", "alert.resolved"),
    ("06:03", "queue-backlog:page", "alert.pending"),
    ("06:05", "queue-backlog:page", "alert.firing"),
    ("06:11", "queue-backlog:ticket", "alert.pending"),
    ("06:13", "queue-backlog:ticket", "alert.firing"),
    ("06:37", "queue-backlog:page", "alert.resolved"),
    ("07:54", "queue-backlog:ticket", "alert.resolved"),
    ("09:05", "availability:ticket", "alert.pending"),
    ("09:07", "availability:ticket", "alert.firing"),
    ("09:15", "availability:page", "alert.pending"),
    ("09:17", "availability:page", "alert.firing"),
    ("10:10", "availability:page", "alert.resolved"),
    ("13:00", "error-logs:ticket", "alert.pending"),
    ("13:02", "error-logs:ticket", "alert.firing"),
    ("15:35", "availability:ticket", "alert.resolved"),
    ("16:00", "error-logs:ticket", "alert.resolved"),
]


def monday(hhmm: str) -> datetime:
    hours, minutes = hhmm.split(":")
    return datetime(2026, 11, 30, int(hours), int(minutes), tzinfo=UTC)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shop with seed 002's SLOs and the two recorded days (written once)."""
    return project_with_logs(tmp_path_factory.mktemp("slos"), "seed_slos.yaml", seed_slos_days())


def test_replay_gives_each_slo_pending_firing_resolved_and_sunday_is_not_business_time(
    project: Path,
) -> None:
    result = replay(load_spec(project / "opsbook.yaml"), SLO_START, monday("23:59"), 60)
    got = [
        (datetime.fromtimestamp(c.at, UTC).strftime("%d %H:%M"), c.alert, c.event)
        for c in result.transitions
    ]
    # Nothing on Sunday 29th: the 10:00 outage is outside Kigali business hours.
    assert all(when.startswith("30 ") for when, _, _ in got)
    assert [(w.removeprefix("30 "), a, e) for w, a, e in got] == EXPECTED


AROUND = {
    "login-success:page": ["05:01", "05:02", "05:03", "05:04", "05:24", "05:25"],
    "queue-backlog:page": ["06:02", "06:03", "06:05", "06:36", "06:37"],
    "availability:page": ["09:14", "09:15", "09:17", "10:09", "10:10"],
    "error-logs:ticket": ["12:59", "13:00", "13:02", "15:59", "16:00"],
}
"""Minutes just before and at each transition of one alert per SLO."""


@pytest.mark.timeout(120)  # five evaluations on reopened stores: ~5 s alone, 15-25 s in the suite
@pytest.mark.parametrize("alert", sorted(AROUND))
def test_stored_evaluations_after_restarts_give_the_replays_transitions(
    project: Path, tmp_path: Path, alert: str
) -> None:
    """Evaluations around one alert's transitions, the store reopened before each (a watch
    restarted every minute): the alert's stored state carries pending and firing over."""
    loaded = load_spec(project / "opsbook.yaml")
    url = f"sqlite:///{tmp_path / 'state.db'}"
    seen = []
    for hhmm in AROUND[alert]:
        store = open_store(url)
        try:
            changes = evaluate(store, loaded, monday(hhmm)).transitions
        finally:
            store.close()
        seen += [(hhmm, c.alert, c.event) for c in changes if c.alert == alert]
    assert seen == [e for e in EXPECTED if e[1] == alert]


def test_slo_command_shows_budget_and_burn_rates(project: Path) -> None:
    done = run_cli("slo", "--now", "2026-11-30T09:30:00Z", "--json", cwd=project)
    assert done.returncode == 0, done.stderr
    by_name = {s["slo"]: s for s in json.loads(done.stdout)}
    availability = by_name["availability"]
    # Business hours only: Sunday's outage is not counted, Monday's is.
    assert availability["calendar"] == "business-hours"
    assert 0 < availability["error_ratio"] < 0.1
    assert availability["remaining"] < 0  # 30% errors for half an hour overspend 0.5%
    page = [b for b in availability["burn_rates"] if b["severity"] == "page"]
    assert page[0]["long"] == 3600 and page[0]["short"] == 300 and page[0]["factor"] == 14.4
    statuses = {
        s.name: s for s in slo_statuses(load_spec(project / "opsbook.yaml"), monday("04:00"))
    }
    # 1% of logins fail on an ordinary day: a fifth of the 5% budget is spent.
    assert 0.7 < (statuses["login-success"].remaining or 0) < 0.9


@pytest.mark.timeout(120)
def test_a_watch_keeps_completed_steps_and_sees_the_same_transitions(
    project: Path, tmp_path: Path
) -> None:
    """What ``watch`` does: one process evaluates every minute with one steps cache; the
    transitions are the replay's, and the cache holds only steps that ended a step ago."""
    from opsbook.monitor.slo import slo_holds

    loaded = load_spec(project / "opsbook.yaml")
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    cache: dict[Any, Any] = {}
    seen = []
    try:
        minute = monday("05:00")
        while minute <= monday("05:26"):
            changes = evaluate(store, loaded, minute, steps_cache=cache).transitions
            seen += [(minute.strftime("%H:%M"), c.alert, c.event) for c in changes]
            minute += timedelta(minutes=1)
        now = monday("05:26")
        assert slo_holds(None, loaded, {}, now, steps_cache=cache) == slo_holds(
            None, loaded, {}, now
        )
    finally:
        store.close()
    assert seen == [e for e in EXPECTED if "05:00" <= e[0] <= "05:26"]
    assert seen  # the login SLO pages and resolves in this half hour
    steps = {step for _, step, _ in cache}
    for _, step, end in cache:
        assert end <= now.timestamp() - step  # the current step is read again at every tick
    assert len(cache) >= len(steps) * 2
