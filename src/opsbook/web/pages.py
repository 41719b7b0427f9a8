"""The dashboard: server-rendered pages (Jinja2), live parts over htmx + SSE.

Every page reads without JavaScript; forms post with a CSRF field and redirect back
(post/redirect/get). htmx only refreshes parts of a page when the run's events arrive.
"""

from __future__ import annotations

import datetime as dt
import time
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from opsbook.auth import Principal, Role
from opsbook.errors import InvalidState, OpsbookError, SpecError, Unauthenticated
from opsbook.store import Store
from opsbook.web.context import ctx
from opsbook.web.security import SESSION_COOKIE, csrf_of, current, need

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

FINISHED = ("succeeded", "failed", "rolled_back", "aborted")
TAIL_LINES = 20
LOGIN_WINDOW = 300.0  # seconds over which failed logins from one address are counted
LOGIN_MAX = 10

Viewer = Annotated[Principal, Depends(current)]
Operator = Annotated[Principal, Depends(need(Role.OPERATOR, "this"))]
Approver = Annotated[Principal, Depends(need(Role.APPROVER, "answering a gate"))]


def when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def duration(start: float | None, end: float | None) -> str:
    if start is None:
        return "-"
    seconds = (end or time.time()) - start
    return f"{seconds:.1f}s" if seconds < 120 else f"{seconds / 60:.1f}m"


templates.env.filters["when"] = when
templates.env.globals["duration"] = duration


def render(request: Request, name: str, context: dict[str, Any], *, status: int = 200) -> Response:
    who = getattr(request.state, "principal", None)
    base = {"who": who, "csrf": csrf_of(request), "extra_nav": request.app.state.nav}
    return templates.TemplateResponse(request, name, {**base, **context}, status_code=status)


def recent(store: Store, *, limit: int = 100, before: int | None = None) -> list[dict[str, Any]]:
    from opsbook.store import feed

    with store.read() as conn:
        return feed.recent_events(conn, limit=limit, before=before)


def resumable(store: Store, run_id: str) -> tuple[str, str]:
    """Whether a worker will continue the run: (id, why) or InvalidState saying why not."""
    from opsbook.history import show_run

    run = show_run(store, run_id)["run"]
    status, lease = run["status"], run["lease"]
    if status in FINISHED:
        raise InvalidState(f"already finished ({status})", run=run["id"])
    if status == "needs_attention":
        raise InvalidState(
            f"needs attention: {run['error']}",
            run=run["id"],
            hint="decide first: POST .../steps/STEP/resolve with rerun, skip or mark-done",
        )
    if status == "waiting":
        raise InvalidState("is waiting for a gate or a timer", run=run["id"])
    if lease["owner"] and (lease["expires_at"] or 0) > time.time():
        return run["id"], f"being executed by {lease['owner']}"
    return run["id"], "queued; a worker takes it"


def run_view(store: Store, run_id: str) -> dict[str, Any]:
    """A run with, per step, its kind, gate checklist and output tail, for the run page."""
    from opsbook.store.feed import run_page

    with store.read() as conn:
        detail = run_page(conn, run_id)
    spec_text = str(detail["run"].pop("spec_text"))
    kinds = _step_kinds(spec_text, detail["run"]["runbook"])
    tails = {
        sid: "\n".join(str(out).splitlines()[-TAIL_LINES:])
        for sid, out in detail.pop("outputs").items()
    }
    steps = []
    for s in detail["steps"]:
        kind, checklist = kinds.get(s["step_id"], ("?", []))
        result = s.get("result") or {}
        if s["status"] == "waiting" and result.get("confirm"):
            kind, checklist = f"{kind} (confirm)", [str(i) for i in result["confirm"]]
        steps.append(
            {
                **s,
                "kind": kind,
                "decide": s["status"] == "waiting" and (kind == "gate" or "confirm" in kind),
                "checklist": checklist,
                "tail": tails.get(s["step_id"], ""),
                "message": result.get("message", ""),
            }
        )
    done = sum(1 for s in steps if s["status"] in ("succeeded", "skipped"))
    return {**detail, "steps": steps, "done": done, "finished": detail["run"]["status"] in FINISHED}


@lru_cache(maxsize=32)
def _step_kinds(spec_text: str, runbook: str) -> dict[str, tuple[str, list[str]]]:
    """Step id → (kind, gate checklist), parsed once per spec text (pages reload often)."""
    from opsbook.spec.loader import validate_text
    from opsbook.steps.gate import gate_items

    try:
        book = validate_text(spec_text, "opsbook.yaml").spec.runbooks[runbook]
    except (SpecError, KeyError):
        return {}
    return {
        step.id: (step.kind, gate_items(step.config) if step.kind == "gate" else [])
        for step in book.steps
    }


def _back(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


# ----- login -------------------------------------------------------------------------------


@router.get("/login")
def login_page(request: Request, next: str = "/runs") -> Response:
    return render(request, "login.html", {"next": _safe_next(next), "error": None})


def _safe_next(target: str) -> str:
    """Only a local path: never redirect to another site after login."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/runs"
    return target[:500]


def _client(request: Request) -> str:
    return request.client.host if request.client else "?"


@router.post("/login")
async def login_submit(
    request: Request,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form(max_length=500)] = "/runs",
) -> Response:
    from opsbook.auth import login

    state = ctx(request)
    now = time.monotonic()
    failures = [t for t in state.login_failures.get(_client(request), []) if now - t < LOGIN_WINDOW]
    state.login_failures[_client(request)] = failures
    if len(failures) >= LOGIN_MAX:
        context = {"next": _safe_next(next), "error": "too many failed logins; wait a few minutes"}
        return render(request, "login.html", context, status=429)
    try:
        opened = await run_in_threadpool(login, state.store, username, password)
    except Unauthenticated as err:
        failures.append(now)
        return render(
            request, "login.html", {"next": _safe_next(next), "error": err.message}, status=401
        )
    response = _back(_safe_next(next))
    response.set_cookie(
        SESSION_COOKIE,
        opened.cookie,
        httponly=True,
        samesite="strict",
        secure=state.secure,
        max_age=12 * 3600,
        path="/",
    )
    return response


@router.post("/logout")
def logout(request: Request, who: Viewer) -> Response:
    from opsbook.auth import logout as end

    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        end(ctx(request).store, cookie)
    response = _back("/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# ----- runs --------------------------------------------------------------------------------


@router.get("/")
def home() -> Response:
    return _back("/runs")


@router.get("/runs")
def runs_page(request: Request, who: Viewer) -> Response:
    from opsbook.history import list_runs

    request.state.principal = who
    rows = list_runs(ctx(request).store, limit=100)
    books = _runbooks(request)
    params = sorted({p for _, names in books for p in names})
    return render(request, "runs.html", {"runs": rows, "runbooks": books, "params": params})


def _runbooks(request: Request) -> list[tuple[str, list[str]]]:
    """(runbook, its declared params) for the start form; empty when opsbook.yaml is unreadable."""
    from opsbook.spec.loader import load_spec

    try:
        loaded = load_spec(ctx(request).spec_file)
    except OpsbookError:
        return []
    return [(name, list(book.params)) for name, book in loaded.spec.runbooks.items()]


@router.post("/runs")
async def start_from_form(request: Request, who: Operator) -> Response:
    from opsbook.engine import start_run
    from opsbook.plan import make_plan
    from opsbook.spec.loader import load_spec

    form = await request.form()
    runbook, env = str(form.get("runbook", ""))[:200], str(form.get("env", ""))[:200]
    params = {
        key[2:]: str(value)[:10_000]
        for key, value in form.items()
        if key.startswith("p.") and str(value) != ""
    }

    def begin() -> str:
        loaded = load_spec(ctx(request).spec_file)
        plan = make_plan(loaded, runbook, env, params)
        outcome = start_run(ctx(request).store, plan, operator=who.actor, queue=True)
        return outcome.run_id

    run_id = await run_in_threadpool(begin)
    return _back(f"/runs/{quote(run_id)}")


@router.get("/runs/{run_id}")
def run_page(request: Request, run_id: str, who: Viewer) -> Response:
    request.state.principal = who
    view = run_view(ctx(request).store, run_id[:200])
    return render(request, "run.html", view)


@router.get("/runs/{run_id}/steps")
def run_steps(request: Request, run_id: str, who: Viewer) -> Response:
    """The live part of the run page, refreshed by htmx when an event arrives."""
    request.state.principal = who
    view = run_view(ctx(request).store, run_id[:200])
    return render(request, "_steps.html", view)


@router.post("/runs/{run_id}/steps/{step}/decide")
async def decide(request: Request, run_id: str, step: str, who: Approver) -> Response:
    from opsbook.engine import approve

    form = await request.form()
    reject = form.get("decision") == "reject"
    note = str(form.get("note", ""))[:10_000]
    if not reject:
        view = await run_in_threadpool(run_view, ctx(request).store, run_id[:200])
        items: list[str] = next((s["checklist"] for s in view["steps"] if s["step_id"] == step), [])
        ticked = form.getlist("item")
        if len(ticked) < len(items):
            raise InvalidState(
                f"tick every item of the checklist of {step} to approve it", run=run_id
            )
    await run_in_threadpool(
        lambda: approve(
            ctx(request).store, run_id, step, operator=who.actor, note=note, reject=reject
        )
    )
    return _back(f"/runs/{quote(run_id)}")


@router.post("/runs/{run_id}/abort")
async def abort_from_form(request: Request, run_id: str, who: Operator) -> Response:
    from opsbook.engine import abort

    await run_in_threadpool(lambda: abort(ctx(request).store, run_id[:200], operator=who.actor))
    return _back(f"/runs/{quote(run_id)}")


# ----- the audit trail ---------------------------------------------------------------------


@router.get("/releases")
def releases_page(request: Request, who: Viewer) -> Response:
    from opsbook.history import release_log

    request.state.principal = who
    return render(request, "releases.html", {"releases": release_log(ctx(request).store)})


@router.get("/audit")
def audit_page(request: Request, who: Viewer, before: int | None = None) -> Response:
    from opsbook.history import verify_log

    request.state.principal = who
    store = ctx(request).store
    rows = recent(store, limit=200, before=before)
    report = verify_log(store)
    return render(request, "audit.html", {"events": rows, "chain": report})


# ----- approval links from chat ------------------------------------------------------------


@router.get("/approve/{token}", name="link_page")
def link_page(request: Request, token: str) -> Response:
    """What the link is for; nothing changes until the button is pressed (unfurlers GET)."""
    from opsbook.auth.links import read_link

    claim = read_link(ctx(request).store, token)
    view = run_view(ctx(request).store, claim.run_id)
    step = next((s for s in view["steps"] if s["step_id"] == claim.step_id), None)
    return render(request, "link.html", {**view, "claim": claim, "step": step, "token": token})


@router.post("/approve/{token}")
async def link_decide(
    request: Request,
    token: str,
    decision: Annotated[str, Form(pattern="^(approve|reject)$")],
    note: Annotated[str, Form(max_length=10_000)] = "",
) -> Response:
    from opsbook.auth.links import spend_link
    from opsbook.engine import approve

    store = ctx(request).store
    claim = await run_in_threadpool(spend_link, store, token)
    result = await run_in_threadpool(
        lambda: approve(
            store,
            claim.run_id,
            claim.step_id,
            operator=claim.principal.actor,
            note=note,
            reject=decision == "reject",
        )
    )
    return render(request, "link_done.html", {"result": result})
