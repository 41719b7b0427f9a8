"""Incidents, on-call, handoff and flags: API routes and dashboard pages over their libraries.

Each route is one library call made as the caller (``token:NAME`` / ``user:NAME``) at the
current time; the libraries record every change in the hash chain.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from opsbook.auth import Principal, Role
from opsbook.incidents.handoff import Report
from opsbook.spec.loader import LoadedSpec
from opsbook.web.context import ctx
from opsbook.web.pages import render
from opsbook.web.responses import IsoJSONResponse
from opsbook.web.security import current, need

api = APIRouter(prefix="/api/v1", default_response_class=IsoJSONResponse)
pages = APIRouter(include_in_schema=False)

Viewer = Annotated[Principal, Depends(current)]
Operator = Annotated[Principal, Depends(need(Role.OPERATOR, "this"))]
Ref = Annotated[str, Field(min_length=1, max_length=40)]
Key = Annotated[str, Field(min_length=1, max_length=200)]
Text = Annotated[str, Field(max_length=10_000)]


def _loaded(request: Request) -> LoadedSpec:
    from opsbook.spec.loader import load_spec

    return load_spec(ctx(request).spec_file)


# ----- incidents ---------------------------------------------------------------------------


class NewIncident(BaseModel):
    title: Annotated[str, Field(min_length=1, max_length=500)]
    severity: Annotated[str, Field(min_length=1, max_length=40)]


class IncidentNote(BaseModel):
    text: Annotated[str, Field(min_length=1, max_length=10_000)]


class Resolution(BaseModel):
    note: Text = ""


def incident_detail(request: Request, ref: str) -> dict[str, Any]:
    from opsbook.incidents.service import get
    from opsbook.incidents.timeline import timeline

    loaded = _loaded(request)
    found = get(ctx(request).store, loaded.spec.project, ref)
    entries = timeline(ctx(request).store, loaded.spec.project, found)
    return {**found.to_json(), "timeline": [e.to_json() for e in entries]}


@api.get("/incidents", tags=["incidents"])
def list_incidents(request: Request, who: Viewer, all: bool = False) -> list[dict[str, Any]]:
    """Open incidents (all of them with ``all=true``), newest first."""
    from opsbook.incidents.service import list_incidents as read

    loaded = _loaded(request)
    return [i.to_json() for i in read(ctx(request).store, loaded.spec.project, all_=all)]


@api.post("/incidents", status_code=201, tags=["incidents"])
def open_incident(request: Request, body: NewIncident, who: Operator) -> dict[str, Any]:
    """Open an incident by hand; its response clock starts now."""
    from opsbook.incidents.service import open_incident as open_

    loaded = _loaded(request)
    found, _ = open_(
        ctx(request).store,
        loaded.spec,
        body.title,
        body.severity,
        now=ctx(request).now(),
        actor=who.actor,
    )
    return found.to_json()


@api.get("/incidents/{ref}", tags=["incidents"])
def show_incident(request: Request, ref: Ref, who: Viewer) -> dict[str, Any]:
    """The incident and its timeline, with the changes made before it."""
    return incident_detail(request, ref)


@api.post("/incidents/{ref}/ack", tags=["incidents"])
def ack_incident(request: Request, ref: Ref, who: Operator) -> dict[str, Any]:
    """Acknowledge: the caller owns it and escalation stops."""
    from opsbook.incidents.service import acknowledge

    loaded = _loaded(request)
    return acknowledge(
        ctx(request).store, loaded.spec.project, ref, now=ctx(request).now(), actor=who.actor
    ).to_json()


@api.post("/incidents/{ref}/notes", tags=["incidents"])
def note_incident(request: Request, ref: Ref, body: IncidentNote, who: Operator) -> dict[str, Any]:
    """Add a note to the incident's timeline."""
    from opsbook.incidents.service import add_note

    loaded = _loaded(request)
    return add_note(
        ctx(request).store,
        loaded.spec.project,
        ref,
        body.text,
        now=ctx(request).now(),
        actor=who.actor,
    ).to_json()


@api.post("/incidents/{ref}/resolve", tags=["incidents"])
def resolve_incident(request: Request, ref: Ref, body: Resolution, who: Operator) -> dict[str, Any]:
    """Close the incident."""
    from opsbook.incidents.service import resolve

    loaded = _loaded(request)
    return resolve(
        ctx(request).store,
        loaded.spec.project,
        ref,
        now=ctx(request).now(),
        actor=who.actor,
        note=body.note or None,
    ).to_json()


@api.get("/oncall", tags=["incidents"])
def oncall(request: Request, who: Viewer) -> list[dict[str, Any]]:
    """Who is on call now for each schedule, until when, and who is next."""
    return [_duty(d) for d in _roster(request)]


def _roster(request: Request) -> list[Any]:
    from opsbook.incidents.oncall import roster

    return roster(_loaded(request).spec, ctx(request).now())


def _duty(duty: Any) -> dict[str, Any]:
    def shift(s: Any) -> dict[str, Any]:
        return {
            "member": s.member,
            "start": s.start.isoformat(),
            "end": s.end.isoformat(),
            "override": s.override,
        }

    return {"schedule": duty.schedule, "current": shift(duty.current), "next": shift(duty.next)}


@api.get("/handoff", tags=["incidents"])
def handoff(
    request: Request, who: Viewer, since: Annotated[str | None, Query(max_length=100)] = None
) -> dict[str, Any]:
    """The on-call handoff report since the last recorded handoff (or ``since``); reading it
    here records nothing."""
    built: dict[str, Any] = _handoff(request, who, since).to_json()
    return built


def _handoff(request: Request, who: Principal, since: str | None) -> Report:
    from opsbook.incidents.handoff import report

    return report(
        ctx(request).store,
        _loaded(request),
        now=ctx(request).now(),
        since=since,
        actor=who.actor,
        record=False,
    )


# ----- flags -------------------------------------------------------------------------------


class FlagChange(BaseModel):
    enabled: bool | None = None
    percent: Annotated[int | None, Field(ge=0, le=100)] = None
    reason: Annotated[str, Field(max_length=500)] = ""


class KillReason(BaseModel):
    reason: Annotated[str, Field(max_length=500)] = ""


@api.get("/flags", tags=["flags"])
def list_flags(request: Request, who: Viewer) -> list[dict[str, Any]]:
    """Every declared flag with its current state."""
    from opsbook.flags.service import list_flags as read

    loaded = _loaded(request)
    return [v.to_json() for v in read(ctx(request).store, loaded.spec.project, loaded.spec.flags)]


@api.get("/flags/{key}", tags=["flags"])
def show_flag(request: Request, key: Key, who: Viewer) -> dict[str, Any]:
    from opsbook.flags.service import show_flag as read

    loaded = _loaded(request)
    return read(ctx(request).store, loaded.spec.project, loaded.spec.flags, key).to_json()


def change(request: Request, key: str, who: Principal, **what: Any) -> dict[str, Any]:
    from opsbook.flags.service import change_flag

    loaded = _loaded(request)
    spec = loaded.spec
    made = change_flag(
        ctx(request).store, spec.project, spec.flags, key, operator=who.actor, **what
    )
    return made.to_json()


@api.post("/flags/{key}", tags=["flags"])
def set_flag(request: Request, key: Key, body: FlagChange, who: Operator) -> dict[str, Any]:
    """Turn a flag on or off and/or set its rollout percent; recorded with the reason."""
    from opsbook.errors import UsageError

    if body.enabled is None and body.percent is None:
        raise UsageError("nothing to change", hint="give enabled and/or percent")
    return change(request, key, who, reason=body.reason, enabled=body.enabled, percent=body.percent)


@api.post("/flags/{key}/kill", tags=["flags"])
def kill_flag(request: Request, key: Key, body: KillReason, who: Operator) -> dict[str, Any]:
    """The kill switch: off for everyone from the next evaluation."""
    return change(request, key, who, reason=body.reason or "kill switch", enabled=False)


@api.get("/flags/{key}/history", tags=["flags"])
def flag_history(
    request: Request, key: Key, who: Viewer, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[dict[str, Any]]:
    from opsbook.flags.service import history

    loaded = _loaded(request)
    rows = history(ctx(request).store, loaded.spec.project, loaded.spec.flags, key, limit)
    return [r.to_json() for r in rows]


# ----- pages -------------------------------------------------------------------------------


def _back(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


@pages.get("/incidents")
def incidents_page(request: Request, who: Viewer) -> Response:
    request.state.principal = who
    loaded = _loaded(request)
    return render(
        request,
        "incidents.html",
        {
            "incidents": list_incidents(request, who, all=True),
            "duties": [_duty(d) for d in _roster(request)],
            "severities": list(loaded.spec.severities),
        },
    )


@pages.get("/incidents/{ref}")
def incident_page(request: Request, ref: str, who: Viewer) -> Response:
    request.state.principal = who
    return render(request, "incident.html", {"i": incident_detail(request, ref[:40])})


@pages.post("/incidents")
async def open_from_form(request: Request, who: Operator) -> Response:
    form = await request.form()
    body = NewIncident(
        title=str(form.get("title", ""))[:500], severity=str(form.get("severity", ""))[:40]
    )
    found = await run_in_threadpool(open_incident, request, body, who)
    return _back(f"/incidents/{quote(found['ref'])}")


@pages.post("/incidents/{ref}/{action}")
async def incident_action(request: Request, ref: str, action: str, who: Operator) -> Response:
    from opsbook.errors import UsageError

    form = await request.form()
    text = str(form.get("text", ""))[:10_000]
    ref = ref[:40]
    if action == "ack":
        await run_in_threadpool(ack_incident, request, ref, who)
    elif action == "note":
        await run_in_threadpool(note_incident, request, ref, IncidentNote(text=text), who)
    elif action == "resolve":
        await run_in_threadpool(resolve_incident, request, ref, Resolution(note=text), who)
    else:
        raise UsageError(f"unknown incident action '{action[:40]}'")
    return _back(f"/incidents/{quote(ref)}")


@pages.get("/handoff")
def handoff_page(request: Request, who: Viewer) -> Response:
    request.state.principal = who
    return render(request, "handoff.html", {"report": _handoff(request, who, None)})


@pages.get("/flags")
def flags_page(request: Request, who: Viewer) -> Response:
    request.state.principal = who
    return render(request, "flags.html", {"flags": list_flags(request, who)})


@pages.get("/flags/{key}")
def flag_page(request: Request, key: str, who: Viewer) -> Response:
    request.state.principal = who
    key = key[:200]
    return render(
        request,
        "flag.html",
        {"flag": show_flag(request, key, who), "history": flag_history(request, key, who)},
    )


@pages.post("/flags/{key}")
async def flag_from_form(request: Request, key: str, who: Operator) -> Response:
    form = await request.form()
    reason = str(form.get("reason", ""))[:500]
    action = form.get("action")
    key = key[:200]
    if action == "kill":
        await run_in_threadpool(kill_flag, request, key, KillReason(reason=reason), who)
    else:
        raw = str(form.get("percent", "")).strip()
        body = FlagChange(
            enabled=True if action == "on" else (False if action == "off" else None),
            percent=int(raw) if raw.isdigit() else None,
            reason=reason,
        )
        await run_in_threadpool(set_flag, request, key, body, who)
    return _back(f"/flags/{quote(key)}")


NAV = [("Incidents", "/incidents"), ("Flags", "/flags"), ("Handoff", "/handoff")]
