"""Incidents on a clock given by --now: escalation, acknowledgement, restarts, response times."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from engine_support import cli
from incidents_support import kigali, write_project
from opsbook.errors import InvalidState, UsageError
from opsbook.incidents import service
from opsbook.incidents.ticker import escalate_due, escalate_now
from opsbook.store import Store, schema

FRIDAY_17 = kigali(2026, 11, 27, 17)
H = dt.timedelta(hours=1)


def _pages(store: Store) -> list[tuple[str, str, float]]:
    with store.begin() as conn:
        rows = conn.execute(select(schema.incident_pages).order_by(schema.incident_pages.c.id))
        return [(r.key, r.target, r.due_at) for r in rows]


def _open(store: Store, tmp_path: Path, severity: str = "P1") -> service.Incident:
    loaded = write_project(tmp_path)
    incident, created = service.open_incident(
        store, loaded.spec, "Checkout returns 502", severity, now=FRIDAY_17, actor="ana"
    )
    assert created
    return incident


@pytest.mark.store
def test_an_unacknowledged_p1_pages_oncall_then_the_tech_lead_then_the_manager(
    tmp_path: Path, store_url: str, stores: Callable[[str], Store]
) -> None:
    store = stores(store_url)
    _open(store, tmp_path)
    spec = write_project(tmp_path).spec
    who = lambda: [(key, person) for key, person, _ in _pages(store)]  # noqa: E731
    assert [p.person for p in escalate_due(store, spec, FRIDAY_17, "w1").pages] == ["bosco"]
    escalate_due(store, spec, FRIDAY_17 + 59 * dt.timedelta(minutes=1), "w1")
    assert who() == [("L0.1", "bosco"), ("breach", "bosco")]  # 15 min response time missed
    escalate_due(store, spec, FRIDAY_17 + H, "w1")
    assert who()[-1] == ("L0.2", "tech-lead")
    escalate_due(store, spec, FRIDAY_17 + 2 * H, "w1")
    assert who()[-1] == ("L0.3", "eng-manager")
    assert [due for _, _, due in _pages(store) if due] == [
        FRIDAY_17.timestamp(),
        (FRIDAY_17 + 15 * dt.timedelta(minutes=1)).timestamp(),
        (FRIDAY_17 + H).timestamp(),
        (FRIDAY_17 + 2 * H).timestamp(),
    ]


@pytest.mark.store
def test_an_ack_at_40_minutes_stops_the_chain(
    tmp_path: Path, store_url: str, stores: Callable[[str], Store]
) -> None:
    store = stores(store_url)
    incident = _open(store, tmp_path)
    spec = write_project(tmp_path).spec
    escalate_due(store, spec, FRIDAY_17, "w1")
    at_40 = FRIDAY_17 + 40 * dt.timedelta(minutes=1)
    acked = service.acknowledge(store, "shop", incident.ref, now=at_40, actor="bosco")
    assert acked.acked_at == at_40
    for later in (H, 2 * H, 10 * H):
        assert escalate_due(store, spec, FRIDAY_17 + later, "w1").pages == []
    # Paged at 17:00, nobody else. The response time (17:15) was missed: recorded, not paged,
    # since the watcher found it after the ack.
    assert [(k, p) for k, p, _ in _pages(store)] == [("L0.1", "bosco")]
    breached = service.get(store, "shop", "INC-1").breached_at
    assert breached == FRIDAY_17 + 15 * dt.timedelta(minutes=1)


def test_restarting_the_watcher_between_levels_pages_nobody_twice(tmp_path: Path) -> None:
    """Each `opsbook incident tick` is a new process, as a watcher restarted between levels."""
    write_project(tmp_path)
    url = f"sqlite:///{tmp_path / 'state.db'}"
    opened = cli(
        tmp_path,
        url,
        "incident",
        "open",
        "Checkout down",
        "-s",
        "P1",
        "--now",
        "2026-11-27 17:00",
        "--json",
    )
    assert opened.returncode == 0, opened.stderr
    sent: list[str] = []
    for now in ("17:00", "17:00", "17:30", "18:05", "18:05", "18:06", "19:10", "19:10", "23:00"):
        done = cli(tmp_path, url, "incident", "tick", "--now", f"2026-11-27 {now}", "--json")
        assert done.returncode == 0, done.stderr
        sent += [f"{p['key']} {p['person']}" for p in json.loads(done.stdout)["pages"]]
    assert sent == ["L0.1 bosco", "breach bosco", "L0.2 tech-lead", "L0.3 eng-manager"]
    store_pages = cli(tmp_path, url, "incident", "show", "INC-1", "--json")
    timeline = json.loads(store_pages.stdout)["timeline"]
    assert [e["text"] for e in timeline if e["kind"] == "page"] == [
        "paged bosco (oncall:primary), level 1",
        "paged tech-lead, level 2",
        "paged eng-manager, level 3",
    ]


@pytest.mark.postgres
def test_two_watchers_on_postgres_page_each_level_once(
    tmp_path: Path, fresh_pg_url: str, stores: Callable[[str], Store]
) -> None:
    from engine_support import popen

    write_project(tmp_path)
    store = stores(fresh_pg_url)
    spec = write_project(tmp_path).spec
    service.open_incident(store, spec, "Checkout down", "P1", now=FRIDAY_17, actor="ana")
    sent = []
    for now in ("2026-11-27 17:00", "2026-11-27 19:30"):
        procs = [
            popen(tmp_path, fresh_pg_url, "incident", "tick", "--now", now, "--json")
            for _ in range(2)
        ]
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
            sent += [p["key"] for p in json.loads(out)["pages"]]
    assert sorted(sent) == ["L0.1", "L0.2", "L0.3", "breach"]  # each sent by one watcher
    assert sorted((k, p) for k, p, _ in _pages(store)) == [
        ("L0.1", "bosco"),
        ("L0.2", "tech-lead"),
        ("L0.3", "eng-manager"),
        ("breach", "bosco"),
    ]


@pytest.mark.parametrize(
    ("opened", "due"),
    [
        ("2026-11-27 17:00", "2026-11-30T07:00:00Z"),  # Friday 17:00 → Monday 09:00 Kigali
        ("2026-07-03 17:00", "2026-07-07T07:00:00Z"),  # Monday 6 July is Liberation Day (observed)
        ("2026-11-26 10:00", "2026-11-27T07:00:00Z"),  # Thursday morning → Friday 09:00
    ],
)
def test_a_p3_is_due_the_next_business_day_in_kigali(tmp_path: Path, opened: str, due: str) -> None:
    write_project(tmp_path)
    url = f"sqlite:///{tmp_path / 'state.db'}"
    done = cli(
        tmp_path, url, "incident", "open", "Slow reports", "-s", "P3", "--now", opened, "--json"
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["due_at"] == due


def test_an_explicit_holiday_moves_the_p3_too(
    tmp_path: Path, stores: Callable[[str], Store]
) -> None:
    from incidents_support import SPEC

    loaded = write_project(
        tmp_path, SPEC.replace("holidays: {country: RW}", 'holidays: {dates: ["2026-11-30"]}')
    )
    store = stores(f"sqlite:///{tmp_path / 'state.db'}")
    incident, _ = service.open_incident(store, loaded.spec, "Slow", "P3", now=FRIDAY_17, actor="a")
    assert incident.due_at == kigali(2026, 12, 1, 9)


@pytest.mark.store
def test_an_alert_group_opens_one_incident_until_it_is_resolved(
    tmp_path: Path, store_url: str, stores: Callable[[str], Store]
) -> None:
    store = stores(store_url)
    spec = write_project(tmp_path).spec
    first, created = service.open_incident(
        store,
        spec,
        "High error rate",
        "P1",
        now=FRIDAY_17,
        actor="alert",
        group_key="g1",
        alert={"alertname": "high_error_rate"},
    )
    again, created_again = service.open_incident(
        store,
        spec,
        "High error rate",
        "P1",
        now=FRIDAY_17 + H,
        actor="alert",
        group_key="g1",
        alert={"alertname": "high_error_rate"},
    )
    assert created and not created_again and again.ref == first.ref == "INC-1"
    service.resolve(store, "shop", "INC-1", now=FRIDAY_17 + 2 * H, actor="ana")
    third, created_third = service.open_incident(
        store,
        spec,
        "High error rate",
        "P1",
        now=FRIDAY_17 + 3 * H,
        actor="alert",
        group_key="g1",
        alert={"alertname": "high_error_rate"},
    )
    assert created_third and third.ref == "INC-2"


@pytest.mark.store
def test_manual_escalation_pages_the_next_level_once(
    tmp_path: Path, store_url: str, stores: Callable[[str], Store]
) -> None:
    store = stores(store_url)
    _open(store, tmp_path)
    spec = write_project(tmp_path).spec
    escalate_due(store, spec, FRIDAY_17, "w1")
    sent = escalate_now(
        store, spec, "INC-1", now=FRIDAY_17 + 5 * dt.timedelta(minutes=1), actor="ana"
    )
    assert [p.person for p in sent] == ["tech-lead"]
    # The timer reaches level 2 at 18:00 and finds it paged already.
    assert [p.person for p in escalate_due(store, spec, FRIDAY_17 + H, "w1").pages] == ["bosco"]
    service.resolve(store, "shop", "INC-1", now=FRIDAY_17 + H, actor="ana")
    with pytest.raises(InvalidState, match="resolved"):
        escalate_now(store, spec, "INC-1", now=FRIDAY_17 + H, actor="ana")


@pytest.mark.store
def test_transitions_are_guarded(
    tmp_path: Path, store_url: str, stores: Callable[[str], Store]
) -> None:
    store = stores(store_url)
    _open(store, tmp_path)
    service.resolve(store, "shop", "INC-1", now=FRIDAY_17 + H, actor="ana")
    with pytest.raises(InvalidState, match="INC-1 is resolved; it cannot become acknowledged"):
        service.acknowledge(store, "shop", "INC-1", now=FRIDAY_17 + 2 * H, actor="ana")
    with pytest.raises(UsageError, match="no incident INC-9"):
        service.get(store, "shop", "INC-9")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["incident", "ack", "INC-x"], "'INC-x' is not an incident"),
        (["incident", "ack", "'; drop table x; --"], "is not an incident"),
        (["incident", "ack", "INC-4"], "no incident INC-4"),
        (["incident", "open", "x", "-s", "P9"], "unknown severity 'P9'; known: P1, P3"),
        (["incident", "open", "x" * 300, "-s", "P1"], "the title is 300 characters; at most 200"),
        (["incident", "open", "a\x1b[31mb", "-s", "P1"], "control characters"),
        (["incident", "open", "x", "-s", "P1", "--now", "tomorrowish"], "--now: 'tomorrowish'"),
        (["incident", "drill", "-s", "P1", "--now", "fri 25:00"], "is not a time"),
        (["incident", "note", "INC-1", "   "], "the note is empty"),
    ],
)
def test_hostile_input_gets_one_line_and_exit_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    write_project(tmp_path)
    url = f"sqlite:///{tmp_path / 'state.db'}"
    done = cli(tmp_path, url, *args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert message in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
