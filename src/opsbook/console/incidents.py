"""Showing incidents, timelines, drills, on-call rosters and handoff reports."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from opsbook.console import out, print_json
from opsbook.console.untrusted import escape
from opsbook.incidents.display import zone_name
from opsbook.incidents.drill import Drill
from opsbook.incidents.handoff import Report
from opsbook.incidents.oncall import Duty
from opsbook.incidents.paging import Page
from opsbook.incidents.service import Incident
from opsbook.incidents.ticker import TickReport
from opsbook.incidents.timeline import Entry
from opsbook.spec.durations import format_duration
from opsbook.spec.models import Spec


def _local(spec: Spec, moment: dt.datetime | None) -> str:
    if moment is None:
        return "-"
    zone = ZoneInfo(zone_name(spec) or "UTC")
    return moment.astimezone(zone).strftime("%a %Y-%m-%d %H:%M %Z")


def _p(text: str) -> None:
    out.print(escape(text))


def _clock(spec: Spec, incident: Incident) -> str:
    if incident.due_at is None:
        return ""
    answered = incident.acked_at
    if answered is None:
        state = "breached" if incident.breached_at else "running"
        return f"respond by {_local(spec, incident.due_at)} ({state})"
    met = "met" if answered <= incident.due_at else "missed"
    took = format_duration((answered - incident.opened_at).total_seconds())
    return f"acknowledged after {took}, {met} the response time"


def show_incident(spec: Spec, incident: Incident, *, json: bool) -> None:
    if json:
        print_json(incident.to_json())
        return
    _p(f"{incident.ref} [{incident.severity}] {incident.title}: {incident.status}")
    _p(f"  opened {_local(spec, incident.opened_at)} by {incident.opened_by}")
    clock = _clock(spec, incident)
    if clock:
        _p(f"  {clock}")


def show_list(spec: Spec, incidents: list[Incident], *, json: bool) -> None:
    if json:
        print_json([i.to_json() for i in incidents])
        return
    if not incidents:
        _p("no open incidents")
    for incident in incidents:
        _p(
            f"{incident.ref:<8} {incident.severity:<4} {incident.status!s:<13}"
            f" {_local(spec, incident.opened_at)}  {incident.title}"
        )


def show_pages(spec: Spec, pages: list[Page], *, json: bool) -> None:
    if json:
        print_json([_page_json(p) for p in pages])
        return
    for page in pages:
        via = f" ({page.via})" if page.via != page.person else ""
        receivers = ", ".join(page.receivers) or "no receivers"
        _p(f"{page.incident}: paged {page.person}{via} via {receivers}")
    if not pages:
        _p("nobody paged")


def _page_json(page: Page) -> dict[str, Any]:
    from opsbook.clock import isoformat

    return {
        "incident": page.incident,
        "key": page.key,
        "person": page.person,
        "via": page.via,
        "receivers": list(page.receivers),
        "due_at": isoformat(page.due_at),
        "message": page.message,
    }


def show_timeline(spec: Spec, incident: Incident, entries: list[Entry], *, json: bool) -> None:
    if json:
        print_json({**incident.to_json(), "timeline": [e.to_json() for e in entries]})
        return
    show_incident(spec, incident, json=False)
    changes = [e for e in entries if e.change]
    _p("")
    _p("Changes in the two hours before it opened:")
    for entry in changes:
        _p(f"  {_local(spec, entry.at)}  {entry.kind:<9} {entry.text}")
    if not changes:
        _p("  none recorded")
    _p("")
    _p("Timeline:")
    for entry in entries:
        if not entry.change:
            _p(f"  {_local(spec, entry.at)}  {entry.text}")


def show_drill(spec: Spec, drill: Drill, *, json: bool) -> None:
    from opsbook.clock import isoformat

    if json:
        print_json(
            {
                "severity": drill.severity,
                "opened_at": isoformat(drill.opened_at),
                "respond_by": isoformat(drill.due_at),
                "policy": drill.policy,
                "levels": [
                    {
                        "level": s.level,
                        "round": s.round,
                        "at": isoformat(s.at),
                        "after": format_duration((s.at - drill.opened_at).total_seconds()),
                        "page": [
                            {"person": t.person, "via": t.via, "receivers": list(t.receivers)}
                            for t in s.targets
                        ],
                    }
                    for s in drill.levels
                ],
            }
        )
        return
    _p(
        f"Drill: a {drill.severity} incident opened {_local(spec, drill.opened_at)}"
        " (nobody is notified)"
    )
    _p(f"  respond by {_local(spec, drill.due_at)}")
    if not drill.levels:
        _p("  nobody would be paged: no escalation policy pages this severity")
    for start in drill.levels:
        after = format_duration((start.at - drill.opened_at).total_seconds())
        people = ", ".join(
            f"{t.person}"
            + (f" ({t.via})" if t.via != t.person else "")
            + f" via {', '.join(t.receivers) or 'no receivers'}"
            for t in start.targets
        )
        again = f" (repeat {start.round})" if start.round else ""
        _p(f"  level {start.level}{again} at {_local(spec, start.at)} (+{after}): {people}")


def show_tick(spec: Spec, report: TickReport, *, json: bool) -> None:
    if json:
        print_json(
            {
                "pages": [_page_json(p) for p in report.pages],
                "breaches": report.breaches,
                "schedules": report.schedules,
            }
        )
        return
    for page in report.pages:
        receivers = ", ".join(page.receivers) or "no receivers"
        _p(f"paged {page.person} for {page.incident} via {receivers}: {page.message}")
    for ref in report.breaches:
        _p(f"{ref}: response time breached")
    for started in report.schedules:
        _p(f"schedule {started['schedule']}: run {started['run'] or '-'} {started['outcome']}")
    if not (report.pages or report.breaches or report.schedules):
        _p("nothing due")


def show_oncall(spec: Spec, duties: list[Duty], *, json: bool) -> None:
    from opsbook.clock import isoformat

    if json:
        print_json(
            [
                {
                    "schedule": d.schedule,
                    "member": d.current.member,
                    "override": d.current.override,
                    "since": isoformat(d.current.start),
                    "until": isoformat(d.current.end),
                    "next": d.next.member,
                }
                for d in duties
            ]
        )
        return
    if not duties:
        _p("no on-call schedules; add oncall: to opsbook.yaml")
    for duty in duties:
        why = " (override)" if duty.current.override else ""
        _p(
            f"{duty.schedule}: {duty.current.member}{why} until {_local(spec, duty.current.end)},"
            f" then {duty.next.member}"
        )


def show_handoff(spec: Spec, report: Report, *, json: bool) -> None:
    if json:
        print_json(report.to_json())
        return
    _p(f"# Handoff {_local(spec, report.now)}")
    _p("")
    _p(f"Since {_local(spec, report.since)}.")
    for item, rows in report.sections:
        _p("")
        _p(f"## {item.title} ({len(rows)})")
        _p("")
        if not rows:
            _p("- none")
        for row in rows:
            _p("- " + ", ".join(f"{k}: {v}" for k, v in row.items() if v not in (None, "")))
