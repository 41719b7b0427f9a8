"""The HTTP API under ``/api/v1``: the same library calls as the CLI, as the caller's principal.

Every mutation names the caller (``token:NAME`` / ``user:NAME``) as the operator of the audited
event; approvals go through the library's approve path, which enforces
``approvers: {distinct: true}``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse, StreamingResponse

from opsbook.auth import Principal, Role
from opsbook.web.context import ctx
from opsbook.web.responses import IsoJSONResponse, IsoTime
from opsbook.web.security import current, need

router = APIRouter(prefix="/api/v1", default_response_class=IsoJSONResponse)

Viewer = Annotated[Principal, Depends(current)]
Operator = Annotated[Principal, Depends(need(Role.OPERATOR, "this"))]
Approver = Annotated[Principal, Depends(need(Role.APPROVER, "answering a gate"))]
Admin = Annotated[Principal, Depends(need(Role.ADMIN, "this"))]
Id = Annotated[str, Field(min_length=1, max_length=200)]


class StartRun(BaseModel):
    runbook: Id
    env: Id
    params: dict[
        Annotated[str, Field(max_length=200)], Annotated[str, Field(max_length=10_000)]
    ] = Field(default_factory=dict, max_length=100)


class Note(BaseModel):
    note: Annotated[str, Field(max_length=10_000)] = ""


class Resolution(BaseModel):
    action: Annotated[str, Field(pattern="^(rerun|skip|mark-done)$")]


class Accepted(BaseModel):
    id: str
    status: str
    message: str = ""


class Decided(BaseModel):
    run: str
    step: str
    decision: str
    operator: str


class Me(BaseModel):
    actor: str
    kind: str
    name: str
    role: str


class Link(BaseModel):
    url: str
    expires_at: IsoTime


class RunRow(BaseModel):
    id: str
    project: str
    runbook: str
    environment: str
    status: str
    operator: str
    params: dict[str, Any]
    git_sha: str | None
    created_at: IsoTime
    started_at: IsoTime | None
    finished_at: IsoTime | None
    error: str | None


class ReleaseRow(RunRow):
    approvals: list[dict[str, Any]]


class ChainCheck(BaseModel):
    ok: bool
    checked: int
    problems: list[str]


def _runs_store(request: Request) -> Any:
    return ctx(request).store


@router.get("/me", response_model=Me, tags=["auth"])
def me(who: Viewer) -> Me:
    """Who the credentials belong to."""
    return Me(actor=who.actor, kind=who.kind, name=who.name, role=who.role.value)


@router.get("/runs", response_model=list[RunRow], tags=["runs"])
def list_runs(
    request: Request,
    who: Viewer,
    env: Annotated[str | None, Query(max_length=200)] = None,
    runbook: Annotated[str | None, Query(max_length=200)] = None,
    status: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[RunRow]:
    """Runs, newest first (as `opsbook runs --json`)."""
    from opsbook.history import list_runs as runs

    rows = runs(ctx(request).store, environment=env, runbook=runbook, status=status, limit=limit)
    return [RunRow(**vars(r)) for r in rows]


@router.post("/runs", status_code=202, response_model=Accepted, tags=["runs"])
def start(request: Request, body: StartRun, who: Operator) -> Accepted:
    """Start a run: validated now, executed by a worker (202 with its id)."""
    from opsbook.engine import start_run
    from opsbook.plan import make_plan
    from opsbook.spec.loader import load_spec

    loaded = load_spec(ctx(request).spec_file)
    outcome = start_run(
        ctx(request).store,
        make_plan(loaded, body.runbook, body.env, body.params),
        operator=who.actor,
        queue=True,
    )
    return Accepted(id=outcome.run_id, status=outcome.status, message=outcome.message)


@router.get("/runs/{run_id}", tags=["runs"])
def show(request: Request, run_id: Id, who: Viewer) -> dict[str, Any]:
    """Everything recorded about a run (as `opsbook show --json`)."""
    from opsbook.history import show_run

    return show_run(ctx(request).store, run_id)


def _decide(
    request: Request, run_id: str, step: str, who: Principal, note: str, reject: bool
) -> Decided:
    from opsbook.engine import approve

    return Decided(
        **approve(ctx(request).store, run_id, step, operator=who.actor, note=note, reject=reject)
    )


@router.post("/runs/{run_id}/steps/{step}/approve", response_model=Decided, tags=["runs"])
def approve_step(request: Request, run_id: Id, step: Id, body: Note, who: Approver) -> Decided:
    """Approve a waiting gate with a note; a worker continues the run."""
    return _decide(request, run_id, step, who, body.note, False)


@router.post("/runs/{run_id}/steps/{step}/reject", response_model=Decided, tags=["runs"])
def reject_step(request: Request, run_id: Id, step: Id, body: Note, who: Approver) -> Decided:
    """Reject a waiting gate with a note; the run rolls back."""
    return _decide(request, run_id, step, who, body.note, True)


@router.post("/runs/{run_id}/steps/{step}/link", response_model=Link, tags=["runs"])
def approval_link(request: Request, run_id: Id, step: Id, who: Approver) -> Link:
    """A signed, single-use link (15 minutes) to decide this gate from chat as the caller."""
    from opsbook.auth.links import DEFAULT_TTL, make_link, read_link
    from opsbook.engine.lifecycle import full_run_id

    store = ctx(request).store
    token = make_link(store, full_run_id(store, run_id), step, who, ttl=DEFAULT_TTL)
    url = str(request.url_for("link_page", token=token))
    return Link(url=url, expires_at=read_link(store, token).expires_at)


@router.post("/runs/{run_id}/steps/{step}/resolve", response_model=Accepted, tags=["runs"])
def resolve_step(
    request: Request, run_id: Id, step: Id, body: Resolution, who: Operator
) -> Accepted:
    """Decide about a step a crash interrupted; a worker then continues the run."""
    from opsbook.engine import resolve

    resolve(ctx(request).store, run_id, step, body.action, operator=who.actor)
    return Accepted(id=run_id, status="running", message=f"{step}: {body.action}")


@router.post("/runs/{run_id}/abort", response_model=Accepted, tags=["runs"])
def abort(request: Request, run_id: Id, who: Operator) -> Accepted:
    """Stop a run and roll back its completed steps."""
    from opsbook.engine import abort as abort_run

    outcome = abort_run(ctx(request).store, run_id, operator=who.actor)
    return Accepted(id=outcome.run_id, status=outcome.status, message=outcome.message)


@router.post("/runs/{run_id}/resume", status_code=202, response_model=Accepted, tags=["runs"])
def resume(request: Request, run_id: Id, who: Operator) -> Accepted:
    """Ask the workers to continue a run: 202 when one will take it (an interrupted run, an
    approved gate, a due timer); 409 with the reason otherwise."""
    from opsbook.web.pages import resumable

    found, message = resumable(ctx(request).store, run_id)
    return Accepted(id=found, status="queued", message=message)


@router.get(
    "/runs/{run_id}/events",
    tags=["runs"],
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}},
)
def events(
    request: Request,
    run_id: Id,
    who: Viewer,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
) -> StreamingResponse:
    """The run's events as Server-Sent Events (the backlog, then live); ends when it finishes."""
    from opsbook.engine.lifecycle import full_run_id
    from opsbook.history import show_run

    context = ctx(request)
    full = full_run_id(context.store, run_id)
    after = int(last_event_id) if last_event_id and last_event_id.isdigit() else 0
    finished = show_run(context.store, full)["run"]["status"] in (
        "succeeded",
        "failed",
        "rolled_back",
        "aborted",
    )
    assert context.hub is not None
    return StreamingResponse(
        context.hub.stream(full, after, finished),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get("/releases", response_model=list[ReleaseRow], tags=["audit"])
def releases(
    request: Request,
    who: Viewer,
    env: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[ReleaseRow]:
    """The release log: runs that changed things, with approvals and git SHA."""
    from opsbook.history import release_log

    rows = release_log(ctx(request).store, environment=env, limit=limit)
    return [ReleaseRow(**{k: v for k, v in vars(r).items() if k != "spec_text"}) for r in rows]


@router.get("/verify-log", response_model=ChainCheck, tags=["audit"])
def verify_log(request: Request, who: Viewer) -> JSONResponse:
    """Recompute the event log's hash chain (200 when intact, 409 when tampered)."""
    from opsbook.history import verify_log as verify

    report = verify(ctx(request).store)
    body = ChainCheck(ok=report.ok, checked=report.checked, problems=report.problems)
    return JSONResponse(body.model_dump(), status_code=200 if report.ok else 409)


@router.get("/audit", tags=["audit"])
def audit(
    request: Request,
    who: Viewer,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: Annotated[int | None, Query(ge=1)] = None,
) -> list[dict[str, Any]]:
    """The newest events of the log (every change, by whom), newest first."""
    from opsbook.web.pages import recent

    return recent(ctx(request).store, limit=limit, before=before)
