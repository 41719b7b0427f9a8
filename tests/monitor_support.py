"""Shared pieces of the monitoring tests: the recorded day of shop logs and its incidents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from loggen import Incident, Traffic, write

START = datetime(2026, 11, 30, 8, tzinfo=UTC)
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "monitor"


def at(hhmm: str) -> datetime:
    """A time on the recorded day: ``at("09:03")``."""
    hours, minutes = hhmm.split(":")
    return START.replace(hour=int(hours), minute=int(minutes))


def seed_rules_day() -> Traffic:
    """Five hours of shop traffic with one incident for each of the five alert rules."""
    return Traffic(
        START,
        300,
        incidents=[
            Incident(START + timedelta(hours=1), 10, error_rate=0.3),
            Incident(START + timedelta(hours=2), 20, slow_ms=4000),
            Incident(START + timedelta(hours=3), 15, db_pool_in_use=85),
            Incident(START + timedelta(hours=4), 10, payment_failures_per_min=4),
            Incident(START + timedelta(hours=4, minutes=30), 15, agent_errors_per_min=5),
        ],
    )


def project_with_logs(root: Path, spec: str, traffic: Traffic) -> Path:
    """A project folder: opsbook.yaml from fixtures/monitor/SPEC and logs/app.jsonl."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "opsbook.yaml").write_text((FIXTURES / spec).read_text())
    write(root / "logs" / "app.jsonl", traffic)
    return root


SLO_START = datetime(2026, 11, 29, tzinfo=UTC)  # a Sunday; Monday 30 is a Kigali business day


def seed_slos_days() -> Traffic:
    """Two days of shop traffic with one incident per seed-002 SLO, and one outage on Sunday
    (outside Kigali business hours, so the availability SLO does not count it)."""
    monday = SLO_START + timedelta(days=1)
    return Traffic(
        SLO_START,
        48 * 60,
        per_second=0.5,
        error_rate=0.0005,
        incidents=[
            Incident(SLO_START + timedelta(hours=10), 60, error_rate=0.3),
            Incident(monday + timedelta(hours=5), 20, failed_login_rate=0.5),
            Incident(monday + timedelta(hours=6), 30, backlog_minutes=45),
            Incident(monday + timedelta(hours=9), 40, error_rate=0.3),
            Incident(monday + timedelta(hours=12), 180, agent_errors_per_min=30),
        ],
    )


def as_expected(changes: list[Any]) -> list[tuple[str, str, str]]:
    """Transitions as ("HH:MM", alert, event) rows."""
    return [
        (datetime.fromtimestamp(c.at, UTC).strftime("%H:%M"), c.alert, c.event) for c in changes
    ]


def stored_transitions(loaded: Any, url: str, ranges: list[tuple[str, str]]) -> list[Any]:
    """Evaluate every minute of each ("HH:MM", "HH:MM") range, each on a store opened anew (as
    a new process would): the transitions of all of them, in order."""
    from opsbook.monitor.evaluate import evaluate
    from opsbook.store import open_store

    changes: list[Any] = []
    for begin, end in ranges:
        minute = at(begin)
        while minute <= at(end):
            store = open_store(url)
            try:
                changes += evaluate(store, loaded, minute).transitions
            finally:
                store.close()
            minute += timedelta(minutes=1)
    return changes
