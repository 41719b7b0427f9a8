"""``opsbook incident ...``, ``oncall`` and ``handoff``: incidents and on-call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from opsbook.cli.app import app, subgroup
from opsbook.cli.common import project_store
from opsbook.cli.options import Json, Now, SpecFile, StoreUrl

if TYPE_CHECKING:
    from opsbook.spec.loader import LoadedSpec
    from opsbook.store import Store

incident = subgroup("incident", "Open, acknowledge, escalate and resolve incidents; drills.")

Ref = Annotated[str, typer.Argument(help="Incident: INC-12 or 12.")]
Note = Annotated[str | None, typer.Option("--note", "-m", help="What was done.")]
Severity = Annotated[str, typer.Option("--severity", "-s", help="A severity from opsbook.yaml.")]


@dataclass
class _Context:
    """What every incident command needs: the spec, the store, who acts, and when."""

    loaded: LoadedSpec
    store: Store
    actor: str
    now: datetime

    @property
    def project(self) -> str:
        return self.loaded.spec.project


def _context(file: Path | None, store: str | None, now: str | None) -> _Context:
    from opsbook.clock import parse_time
    from opsbook.engine.identity import operator
    from opsbook.incidents.display import zone_name
    from opsbook.spec.loader import load_spec

    loaded = load_spec(file)
    moment = parse_time(now, tz=zone_name(loaded.spec))
    return _Context(loaded, project_store(store, root=loaded.root), operator(loaded.root), moment)


@incident.command("open")
def open_(
    title: Annotated[str, typer.Argument(help="What is wrong, in a few words.")],
    severity: Severity,
    now: Now = None,
    json: Json = False,
    file: SpecFile = None,
    store: StoreUrl = None,
) -> None:
    """Open an incident by hand; its response clock starts now."""
    from opsbook.console.incidents import show_incident
    from opsbook.incidents.service import open_incident

    c = _context(file, store, now)
    found, _ = open_incident(c.store, c.loaded.spec, title, severity, now=c.now, actor=c.actor)
    show_incident(c.loaded.spec, found, json=json)


@incident.command("ack")
def ack(
    ref: Ref, now: Now = None, json: Json = False, file: SpecFile = None, store: StoreUrl = None
) -> None:
    """Acknowledge: you own it, and escalation stops."""
    from opsbook.console.incidents import show_incident
    from opsbook.incidents.service import acknowledge

    c = _context(file, store, now)
    show_incident(
        c.loaded.spec, acknowledge(c.store, c.project, ref, now=c.now, actor=c.actor), json=json
    )


@incident.command("note")
def note(
    ref: Ref,
    text: Annotated[str, typer.Argument(help="The note.")],
    now: Now = None,
    file: SpecFile = None,
    store: StoreUrl = None,
) -> None:
    """Add a note to the timeline."""
    from opsbook.console import info
    from opsbook.incidents.service import add_note

    c = _context(file, store, now)
    found = add_note(c.store, c.project, ref, text, now=c.now, actor=c.actor)
    info(f"{found.ref}: note added")


@incident.command("escalate")
def escalate(
    ref: Ref, now: Now = None, json: Json = False, file: SpecFile = None, store: StoreUrl = None
) -> None:
    """Page the next escalation level now."""
    from opsbook.console.incidents import show_pages
    from opsbook.incidents.ticker import escalate_now

    c = _context(file, store, now)
    show_pages(
        c.loaded.spec,
        escalate_now(c.store, c.loaded.spec, ref, now=c.now, actor=c.actor),
        json=json,
    )


@incident.command("mitigate")
def mitigate(
    ref: Ref,
    runbook: Annotated[
        str | None, typer.Option("--runbook", "-r", help="Run this runbook to mitigate.")
    ] = None,
    env: Annotated[
        str | None, typer.Option("--env", "-e", help="Environment of the runbook.")
    ] = None,
    note: Note = None,
    now: Now = None,
    json: Json = False,
    file: SpecFile = None,
    store: StoreUrl = None,
) -> None:
    """Record that the impact is over; with --runbook, run it first (its gates still ask)."""
    from opsbook.console.incidents import show_incident
    from opsbook.incidents.mitigation import mitigate_incident

    c = _context(file, store, now)
    found = mitigate_incident(
        c.store, c.loaded, ref, runbook=runbook, env=env, note=note, now=c.now, actor=c.actor
    )
    show_incident(c.loaded.spec, found, json=json)


@incident.command("resolve")
def resolve(
    ref: Ref,
    note: Note = None,
    now: Now = None,
    json: Json = False,
    file: SpecFile = None,
    store: StoreUrl = None,
) -> None:
    """Close the incident."""
    from opsbook.console.incidents import show_incident
    from opsbook.incidents.service import resolve as close

    c = _context(file, store, now)
    show_incident(
        c.loaded.spec,
        close(c.store, c.project, ref, now=c.now, actor=c.actor, note=note),
        json=json,
    )


@incident.command("list")
def list_(
    all_: Annotated[bool, typer.Option("--all", help="Resolved incidents too.")] = False,
    json: Json = False,
    file: SpecFile = None,
    store: StoreUrl = None,
) -> None:
    """Open incidents, newest first."""
    from opsbook.console.incidents import show_list
    from opsbook.incidents.service import list_incidents

    c = _context(file, store, None)
    show_list(c.loaded.spec, list_incidents(c.store, c.project, all_=all_), json=json)


@incident.command("show")
def show(ref: Ref, json: Json = False, file: SpecFile = None, store: StoreUrl = None) -> None:
    """The incident and its timeline, with every change of the two hours before it."""
    from opsbook.console.incidents import show_timeline
    from opsbook.incidents.service import get
    from opsbook.incidents.timeline import timeline

    c = _context(file, store, None)
    found = get(c.store, c.project, ref)
    show_timeline(c.loaded.spec, found, timeline(c.store, c.project, found), json=json)


@incident.command("postmortem")
def postmortem(ref: Ref, file: SpecFile = None, store: StoreUrl = None) -> None:
    """Write docs/incidents/YYYY-MM-DD-slug.md from the timeline (never over an edited file)."""
    from opsbook.console import info
    from opsbook.incidents.postmortem import write
    from opsbook.incidents.service import get
    from opsbook.incidents.timeline import timeline

    c = _context(file, store, None)
    found = get(c.store, c.project, ref)
    written = write(c.loaded.root, c.loaded.spec, found, timeline(c.store, c.project, found))
    shown = written.path.relative_to(c.loaded.root)
    info(f"{'wrote' if written.created else 'updated'} {shown}")


@incident.command("drill")
def drill(
    severity: Severity,
    now: Now = None,
    json: Json = False,
    file: SpecFile = None,
) -> None:
    """Who would be paged when, at each level, for an incident opened --now; notifies no one."""
    from opsbook.clock import parse_time
    from opsbook.console.incidents import show_drill
    from opsbook.incidents.display import zone_name
    from opsbook.incidents.drill import drill as plan_drill
    from opsbook.spec.loader import load_spec

    loaded = load_spec(file)
    moment = parse_time(now, tz=zone_name(loaded.spec))
    show_drill(loaded.spec, plan_drill(loaded.spec, severity, moment), json=json)


@incident.command("tick")
def tick(
    now: Now = None, json: Json = False, file: SpecFile = None, store: StoreUrl = None
) -> None:
    """Once: page due escalation levels, record breached SLAs, start due scheduled runbooks."""
    from opsbook.console.incidents import show_tick
    from opsbook.engine.identity import new_owner
    from opsbook.incidents.ticker import tick as run_tick

    c = _context(file, store, now)
    show_tick(c.loaded.spec, run_tick(c.store, c.loaded, c.now, owner=new_owner()), json=json)


@app.command()
def oncall(now: Now = None, json: Json = False, file: SpecFile = None) -> None:
    """Who is on call now (or --now) for each schedule, until when, and who is next."""
    from opsbook.clock import parse_time
    from opsbook.console.incidents import show_oncall
    from opsbook.incidents.display import zone_name
    from opsbook.incidents.oncall import roster
    from opsbook.spec.loader import load_spec

    loaded = load_spec(file)
    moment = parse_time(now, tz=zone_name(loaded.spec))
    show_oncall(loaded.spec, roster(loaded.spec, moment), json=json)


@app.command()
def handoff(
    since: Annotated[
        str | None,
        typer.Option(
            "--since", help="Start of the report (default: the last handoff).", show_default=False
        ),
    ] = None,
    record: Annotated[
        bool,
        typer.Option("--record/--no-record", help="Remember this handoff for the next --since."),
    ] = True,
    now: Now = None,
    json: Json = False,
    file: SpecFile = None,
    store: StoreUrl = None,
) -> None:
    """The on-call handoff report: releases, incidents, alerts, SLOs, waiting runs, flags."""
    from opsbook.console.incidents import show_handoff
    from opsbook.incidents.handoff import report

    c = _context(file, store, now)
    show_handoff(
        c.loaded.spec,
        report(c.store, c.loaded, now=c.now, since=since, actor=c.actor, record=record),
        json=json,
    )
