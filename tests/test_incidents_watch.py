"""Incidents under `opsbook watch`: firing alerts open incidents through the alert hook, pages go
to the notification outbox, and two watchers on PostgreSQL run a due cron schedule once."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from engine_support import cli, popen
from incidents_support import SPEC, write_project
from opsbook.store import Store, schema
from web_support import wait_until

ALERTING = (
    SPEC.replace("receivers: [team-slack]", "receivers: [team-hook]")
    .replace("receivers: [phone]", "receivers: [team-hook]")
    .replace(
        "P1: {respond: 15m, postmortem: true, alerts: [critical]}",
        "P1: {respond: 15m, postmortem: true, alerts: [critical], resolve_with_alert: true}",
    )
    + """checks:
  health: {http: "http://127.0.0.1:9/health", timeout: 1s}
metrics:
  up: {check: health}
alerts:
  site_down:
    {when: up < 1, for: 0m, keep_firing_for: 0m, severity: critical, summary: Checkout is down}
notify:
  receivers:
    team-hook: {webhook: "http://127.0.0.1:9/hook"}
  route: {receiver: team-hook}
"""
)


def test_a_firing_alert_opens_one_incident_whose_pages_are_queued(
    tmp_path: Path, stores: Callable[[str], Store]
) -> None:
    write_project(tmp_path, ALERTING)
    url = f"sqlite:///{tmp_path / 'state.db'}"
    for now in ("2026-11-27T15:00:00Z", "2026-11-27T15:01:00Z"):  # fires twice, one incident
        assert cli(tmp_path, url, "monitor", "eval", "--now", now).returncode == 1
    listed = json.loads(cli(tmp_path, url, "incident", "list", "--json").stdout)
    assert [(i["ref"], i["severity"], i["source"], i["title"]) for i in listed] == [
        ("INC-1", "P1", "alert", "Checkout is down")
    ]
    ticked = cli(tmp_path, url, "incident", "tick", "--now", "2026-11-27T15:02:00Z", "--json")
    assert [p["person"] for p in json.loads(ticked.stdout)["pages"]] == ["bosco"]
    store = stores(url)
    with store.begin() as conn:
        queued = conn.execute(select(schema.outbox)).all()
    (row,) = queued
    body = json.loads(row.payload)
    assert (row.receiver, row.group_key) == ("team-hook", "incident/INC-1")
    assert body["alerts"][0]["labels"]["person"] == "bosco"
    assert body["version"] == "4"
    shown = json.loads(cli(tmp_path, url, "incident", "show", "INC-1", "--json").stdout)
    assert [e["kind"] for e in shown["timeline"]][:2] == ["alert", "opened"]


def test_a_resolved_alert_resolves_its_incident_when_the_severity_says_so(tmp_path: Path) -> None:
    write_project(tmp_path, ALERTING)
    url = f"sqlite:///{tmp_path / 'state.db'}"
    cli(tmp_path, url, "monitor", "eval", "--now", "2026-11-27T15:00:00Z")
    healthy = ALERTING.replace("when: up < 1", "when: up > 1")  # the condition stops holding
    write_project(tmp_path, healthy)
    cli(tmp_path, url, "monitor", "eval", "--now", "2026-11-27T15:05:00Z")
    (incident,) = json.loads(cli(tmp_path, url, "incident", "list", "--all", "--json").stdout)
    assert incident["status"] == "resolved"
    assert incident["resolved_at"] == "2026-11-27T15:05:00Z"


@pytest.mark.postgres
def test_two_watch_processes_on_postgres_run_a_due_cron_schedule_once(
    tmp_path: Path, fresh_pg_url: str, stores: Callable[[str], Store]
) -> None:
    write_project(tmp_path)
    # Both watchers start two seconds before Monday 09:00 in Kigali; their clocks run on.
    start = "2026-11-30T08:59:58+02:00"
    procs = [
        popen(tmp_path, fresh_pg_url, "watch", "--now", start, "--interval", "500ms")
        for _ in range(2)
    ]
    store = stores(fresh_pg_url)

    def finished_runs() -> list[str]:
        with store.begin() as conn:
            rows = conn.execute(select(schema.runs.c.status)).scalars().all()
        return [s for s in rows if s == "succeeded"]

    try:
        wait_until(finished_runs, timeout=120, what="the scheduled run")
        # Let the watchers tick the incidents handler again after the run finished.
        with store.begin() as conn:
            done_at = conn.execute(select(schema.runs.c.finished_at)).scalar_one()
        wait_until(lambda: _ticked_after(store, done_at + 1), timeout=60, what="more ticks")
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.communicate(timeout=60)
    with store.begin() as conn:
        runs = conn.execute(select(schema.runs.c.runbook)).scalars().all()
        claims = conn.execute(select(schema.schedule_claims)).all()
    assert runs == ["daily"]
    assert len(claims) == 1 and claims[0].outcome == "succeeded"
    assert (tmp_path / "ran.txt").read_text() == "checked\n"


def _ticked_after(store: Store, moment: float) -> bool:
    table = schema.metadata.tables["opsbook_leases"]
    with store.begin() as conn:
        last = conn.execute(
            select(table.c.last_done).where(table.c.name == "shop:tick:incidents")
        ).scalar()
    return last is not None and last > moment
