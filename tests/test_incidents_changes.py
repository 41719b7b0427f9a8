"""What changed before an incident (runs, approvals, migrations, flag changes), the postmortem
written from it, the handoff report, and cron schedules run once by two watchers."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from db_support import generate, with_password
from engine_support import cli, popen
from incidents_support import SPEC, write_project
from opsbook.errors import UsageError
from opsbook.incidents import postmortem, service
from opsbook.store import Store, schema

RELEASE = SPEC.replace(
    "environments:\n  production: {}\n",
    "environments:\n  production: {env_file: .env.local}\n",
).replace(
    "runbooks:\n",
    """env:
  DATABASE_URL: {required: true, secret: true}
database:
  url: ${{ env.DATABASE_URL }}
  migrations: migrations
flags:
  new-checkout:
    default: false
    rollout: {percent: 10, stickiness: userId}
runbooks:
  release:
    params: {version: {required: true}}
    steps:
      - {id: window, gate: On-call engineer knows about the release}
      - {id: migrate, migrate: {}}
      - {id: deploy, run: echo deployed}
""",
)


@pytest.mark.postgres
def test_an_incident_20_minutes_after_a_release_shows_its_run_approval_and_migration(
    tmp_path: Path, fresh_pg_url: str
) -> None:
    write_project(tmp_path, RELEASE)
    (tmp_path / ".env.local").write_text(f"DATABASE_URL={with_password(fresh_pg_url)}\n")
    generate(tmp_path / "migrations", 2)
    url = f"sqlite:///{tmp_path / 'state.db'}"
    ran = cli(tmp_path, url, "run", "release", "-e", "production", "-p", "version=1.4.2", "--yes")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    flagged = cli(tmp_path, url, "flag", "set", "new-checkout", "--percent", "50", "-m", "canary")
    assert flagged.returncode == 0, flagged.stderr
    opened = cli(
        tmp_path, url, "incident", "open", "Errors after the release", "-s", "P1", "--now", "+20m"
    )
    assert opened.returncode == 0, opened.stderr
    shown = json.loads(cli(tmp_path, url, "incident", "show", "INC-1", "--json").stdout)
    changes = {e["kind"]: e for e in shown["timeline"] if e["change"]}
    assert set(changes) == {"run", "approval", "migration", "flag"}
    run_id = changes["run"]["data"]["run"]
    assert changes["run"]["text"].startswith(f"run {run_id} release 1.4.2 on production")
    assert changes["approval"]["text"] == f"gate window approved by tester in run {run_id}"
    assert changes["migration"]["data"]["applied"] == ["001_applied_log.sql", "002_table_2.sql"]
    assert changes["flag"]["text"] == "flag new-checkout: on 10% → on 50% by tester (canary)"
    assert "pl4nted" not in json.dumps(shown)  # the database password never reaches a timeline

    written = cli(tmp_path, url, "incident", "postmortem", "INC-1")
    assert written.returncode == 0, written.stderr
    (draft,) = (tmp_path / "docs" / "incidents").glob("*-errors-after-the-release.md")
    text = draft.read_text()
    for needed in (run_id, "gate window approved by tester", "002_table_2.sql", "new-checkout"):
        assert needed in text

    # Three hours later, nothing of it is "before the incident" any more.
    later = cli(tmp_path, url, "incident", "open", "Unrelated", "-s", "P1", "--now", "+3h")
    assert later.returncode == 0
    shown = json.loads(cli(tmp_path, url, "incident", "show", "INC-2", "--json").stdout)
    assert [e for e in shown["timeline"] if e["change"]] == []


def test_a_postmortem_never_overwrites_an_edited_file(
    tmp_path: Path, stores: Callable[[str], Store]
) -> None:
    from incidents_support import kigali

    loaded = write_project(tmp_path)
    store = stores(f"sqlite:///{tmp_path / 'state.db'}")
    incident, _ = service.open_incident(
        store,
        loaded.spec,
        "Checkout / returns ../502",
        "P1",
        now=kigali(2026, 11, 27, 17),
        actor="ana",
    )
    first = postmortem.write(tmp_path, loaded.spec, incident, [])
    assert first.created
    assert first.path == tmp_path / "docs/incidents/2026-11-27-checkout-returns-502.md"
    again = postmortem.write(tmp_path, loaded.spec, incident, [])  # untouched: refreshed
    assert not again.created
    first.path.write_text(first.path.read_text() + "\nRoot cause: a bad config.\n")
    with pytest.raises(UsageError, match="was edited since opsbook wrote it; not overwritten"):
        postmortem.write(tmp_path, loaded.spec, incident, [])
    assert "Root cause: a bad config." in first.path.read_text()


HANDOFF = (
    RELEASE.replace(
        "runbooks:\n",
        """checks:
  health: {http: "http://127.0.0.1:9/health", timeout: 1s}
metrics:
  up: {check: health}
alerts:
  site_down: {when: up < 1, for: 0m, severity: warning, summary: Checkout is down}
slos:
  checkout-up: {sli: up, objective: 99%, window: 1d, step: 5m}
runbooks:
""",
    )
    .replace(
        # every day, not weekdays only: the handoff runs at the real clock and lists schedules
        # due in the next 24 hours, which a weekdays-only cron is not from Friday 09:00 to Sunday
        '"0 9 * * 1-5"',
        '"0 9 * * *"',
    )
    .replace(
        "  daily:\n",
        """  hotfix:
    steps:
      - {id: deploy, run: echo deploy, rollback: echo undo}
      - {id: verify, run: "false"}
  promote:
    steps:
      - {id: approve, gate: Product owner signs off}
      - {id: ship, run: echo shipped}
  daily:
""",
    )
)


@pytest.mark.postgres
def test_handoff_json_lists_one_of_each_item_with_its_numbers(
    tmp_path: Path, fresh_pg_url: str
) -> None:
    write_project(tmp_path, HANDOFF)
    (tmp_path / ".env.local").write_text(f"DATABASE_URL={with_password(fresh_pg_url)}\n")
    generate(tmp_path / "migrations", 1)
    url = f"sqlite:///{tmp_path / 'state.db'}"
    steps = [
        (["run", "release", "-e", "production", "-p", "version=2.0.0", "--yes"], 0),
        (["run", "hotfix", "-e", "production", "--yes"], 1),  # fails, rolls back
        (["run", "promote", "-e", "staging"], 3),  # protected: waits at its gate
        (["flag", "set", "new-checkout", "--percent", "25", "-m", "canary"], 0),
        (["incident", "open", "Slow checkout", "-s", "P3", "--now", "-1h"], 0),
        (["monitor", "eval"], 1),  # site_down fires
        (["silence", "add", 'alertname="disk_full"', "--for", "2h", "-m", "maintenance"], 0),
    ]
    for argv, code in steps:
        done = cli(tmp_path, url, *argv)
        assert done.returncode == code, (argv, done.stdout, done.stderr)
    done = cli(tmp_path, url, "handoff", "--json", "--since", "-2h")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["counts"] == {
        "releases": 1,
        "rollbacks": 1,
        "incidents": 1,
        "waiting_runs": 1,
        "schedules": 1,
        "flags": 1,
        "alerts": 1,
        "silences": 1,
        "slos": 1,
    }
    (release,) = report["releases"]
    assert (release["runbook"], release["version"], release["status"]) == (
        "release",
        "2.0.0",
        "succeeded",
    )
    assert report["rollbacks"][0]["status"] == "rolled_back"
    (incident,) = report["incidents"]
    assert incident["incident"] == "INC-1" and incident["severity"] == "P3"
    assert incident["seconds_left"] > 0 and incident["breached"] is False
    (waiting,) = report["waiting_runs"]
    assert (waiting["runbook"], waiting["step"]) == ("promote", "approve")
    assert report["schedules"][0]["schedule"] == "daily-checklist"
    (alert,) = report["alerts"]
    assert (alert["alert"], alert["severity"], alert["value"]) == ("site_down", "warning", 0)
    (slo,) = report["slos"]
    # One sample, bad (the site is down): the budget of 1% is spent a hundred times over.
    assert (slo["slo"], slo["events"], slo["bad"], slo["budget_remaining"]) == (
        "checkout-up",
        1.0,
        1.0,
        -99.0,
    )
    (silence,) = report["silences"]
    assert silence["comment"] == "maintenance" and 7000 < silence["seconds_left"] <= 7200
    assert report["flags"] == [
        {**report["flags"][0], "flag": "new-checkout", "percent": 25, "reason": "canary"}
    ]
    # Recorded: the next handoff starts where this one ended and sees no new release.
    again = json.loads(cli(tmp_path, url, "handoff", "--json").stdout)
    assert again["since"] == report["now"] or again["counts"]["releases"] == 0


@pytest.mark.postgres
def test_a_due_cron_schedule_runs_once_with_two_watchers_on_postgres(
    tmp_path: Path, fresh_pg_url: str, stores: Callable[[str], Store]
) -> None:
    write_project(tmp_path)
    monday_9 = "2026-11-30T09:00:20+02:00"
    procs = [
        popen(tmp_path, fresh_pg_url, "incident", "tick", "--now", monday_9, "--json")
        for _ in range(2)
    ]
    reports = []
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
        reports.append(json.loads(out))
    started = [s for r in reports for s in r["schedules"]]
    assert len(started) == 1 and started[0]["outcome"] == "succeeded"
    assert (tmp_path / "ran.txt").read_text() == "checked\n"
    store = stores(fresh_pg_url)
    with store.begin() as conn:
        runs = conn.execute(select(schema.runs.c.runbook)).scalars().all()
        claims = conn.execute(select(schema.schedule_claims)).all()
    assert runs == ["daily"]
    assert [(c.schedule, c.run_id) for c in claims] == [("daily-checklist", started[0]["run"])]
    # A later tick the same morning finds the 09:00 run claimed; at 11:00 (past the grace)
    # nothing new is due either.
    for now in ("2026-11-30T09:30:00+02:00", "2026-11-30T11:00:00+02:00"):
        done = cli(tmp_path, fresh_pg_url, "incident", "tick", "--now", now, "--json")
        assert json.loads(done.stdout)["schedules"] == []
