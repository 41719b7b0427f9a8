"""Alerts, silences and SLO budgets: API routes and the dashboard page over the monitoring
library, and the mount of its Alertmanager intake (``POST /api/v2/alerts``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from opsbook.auth import Principal, Role
from opsbook.errors import OpsbookError
from opsbook.web.context import ctx
from opsbook.web.ops import _loaded
from opsbook.web.pages import render
from opsbook.web.responses import IsoJSONResponse
from opsbook.web.security import current, need

api = APIRouter(prefix="/api/v1", default_response_class=IsoJSONResponse)
pages = APIRouter(include_in_schema=False)

Viewer = Annotated[Principal, Depends(current)]
Operator = Annotated[Principal, Depends(need(Role.OPERATOR, "this"))]
NAV = [("Alerts & SLOs", "/alerts")]


class NewSilence(BaseModel):
    matchers: Annotated[
        list[Annotated[str, Field(max_length=500)]], Field(min_length=1, max_length=20)
    ]
    duration: Annotated[str, Field(alias="for", max_length=20)] = "2h"
    comment: Annotated[str, Field(max_length=1000)] = ""


@api.get("/alerts", tags=["monitoring"])
def alerts(request: Request, who: Viewer) -> list[dict[str, Any]]:
    """Alert instances as last evaluated by the watcher (and those received on /api/v2/alerts)."""
    from opsbook.monitor.evaluate import load_statuses

    loaded = _loaded(request)
    found = load_statuses(ctx(request).store, loaded.spec.project).values()
    return [s.to_dict() for s in found]


@api.get("/silences", tags=["monitoring"])
def silences(request: Request, who: Viewer) -> list[dict[str, Any]]:
    from opsbook.notify.silences import list_silences

    loaded = _loaded(request)
    return [s.to_dict() for s in list_silences(ctx(request).store, loaded.spec.project)]


@api.post("/silences", status_code=201, tags=["monitoring"])
def add_silence(request: Request, body: NewSilence, who: Operator) -> dict[str, Any]:
    """Silence alerts matching every matcher, from now, for ``for`` (e.g. ``2h``)."""
    from opsbook.errors import UsageError
    from opsbook.notify.silences import add_silence as add
    from opsbook.spec.durations import parse_duration

    try:
        seconds = parse_duration(body.duration)
    except ValueError as err:
        raise UsageError(f"for: {err}") from None
    loaded = _loaded(request)
    made = add(
        ctx(request).store,
        loaded.spec.project,
        list(body.matchers),
        now=ctx(request).now(),
        duration=seconds,
        author=who.actor,
        comment=body.comment,
    )
    return made.to_dict()


@api.post("/silences/{silence_id}/expire", tags=["monitoring"])
def expire_silence(
    request: Request, silence_id: Annotated[str, Field(max_length=100)], who: Operator
) -> dict[str, Any]:
    from opsbook.notify.silences import expire_silence as expire

    loaded = _loaded(request)
    count = expire(
        ctx(request).store,
        loaded.spec.project,
        silence_id,
        now=ctx(request).now(),
        author=who.actor,
    )
    return {"id": silence_id, "expired": count}


@api.get("/slos", tags=["monitoring"])
def slos(request: Request, who: Viewer) -> list[dict[str, Any]]:
    """Each SLO's error budget, what is left of it, and its burn rate per window, now."""
    from opsbook.monitor.slo import slo_statuses

    loaded = _loaded(request)
    return [s.to_dict() for s in slo_statuses(loaded, ctx(request).now(), store=ctx(request).store)]


def burn_chart(slo: dict[str, Any]) -> str:
    """A server-rendered SVG: one bar per burn-rate window, the alerting factor as a line."""
    rates = slo["burn_rates"]
    width, bar, gap, height = 360, 28, 14, 120
    top = max([1.0] + [r["factor"] for r in rates] + [r["long_rate"] or 0 for r in rates]) * 1.1
    parts = [
        f'<svg role="img" aria-label="burn rates of {slo["slo"]}" width="{width}"'
        f' height="{height + 30}" viewBox="0 0 {width} {height + 30}">'
    ]
    for i, r in enumerate(rates):
        x = 10 + i * (bar * 2 + gap)
        for j, key in enumerate(("long_rate", "short_rate")):
            value = r[key] or 0.0
            h = value / top * height
            colour = "#cf222e" if value > r["factor"] else "#1a7f37"
            parts.append(
                f'<rect x="{x + j * bar}" y="{height - h:.1f}" width="{bar - 2}" height="{h:.1f}"'
                f' fill="{colour}"><title>{key} {value:.2f}'
                f" (alert above {r['factor']})</title></rect>"
            )
        y = height - r["factor"] / top * height
        parts.append(
            f'<line x1="{x - 2}" x2="{x + bar * 2}" y1="{y:.1f}" y2="{y:.1f}" stroke="#9a6700"'
            ' stroke-dasharray="4 2"/>'
        )
        parts.append(
            f'<text x="{x}" y="{height + 16}" font-size="11">{r["long"]:g}s/{r["short"]:g}s</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def budget_bar(slo: dict[str, Any]) -> str:
    left = slo["remaining"]
    share = 0.0 if left is None else max(0.0, min(1.0, left))
    colour = "#1a7f37" if share > 0.25 else "#cf222e"
    label = "no data" if left is None else f"{left * 100:.1f}% of the error budget left"
    return (
        f'<svg role="img" aria-label="{label}" width="300" height="18" viewBox="0 0 300 18">'
        f'<rect width="300" height="18" fill="#eaeef2"/>'
        f'<rect width="{share * 300:.1f}" height="18" fill="{colour}"/></svg> {label}'
    )


@pages.get("/alerts")
def alerts_page(request: Request, who: Viewer) -> Response:
    request.state.principal = who
    now = ctx(request).now().timestamp()
    found = alerts(request, who)
    try:
        budgets = slos(request, who)
        problem = None
    except OpsbookError as err:  # a source is down: the page still shows alerts and silences
        budgets, problem = [], str(err)
    context = {
        "alerts": [a for a in found if a["state"] != "inactive"],
        "silences": [s for s in silences(request, who) if (s.get("expired_at") or now + 1) > now],
        "slos": [{**s, "chart": burn_chart(s), "bar": budget_bar(s)} for s in budgets],
        "slo_problem": problem,
    }
    return render(request, "alerts.html", context)


@pages.post("/silences")
async def silence_from_form(request: Request, who: Operator) -> Response:
    form = await request.form()
    matchers = [m.strip() for m in str(form.get("matchers", ""))[:2000].split(",") if m.strip()]
    body = NewSilence.model_validate(
        {
            "matchers": matchers,
            "for": str(form.get("for", "2h"))[:20],
            "comment": str(form.get("comment", ""))[:1000],
        }
    )
    await run_in_threadpool(add_silence, request, body, who)
    return RedirectResponse("/alerts", status_code=303)


def mount_intake(app: Any, store: Any, loaded: Any) -> None:
    """Alertmanager's ``POST /api/v2/alerts`` (the monitoring helper's routes), behind an
    operator token: alerts can open incidents, so strangers may not post them. Prometheus sends
    the token with ``authorization: {credentials: TOKEN}`` in its ``alertmanagers`` entry."""
    from starlette.routing import Route

    from opsbook.auth import authenticate
    from opsbook.web.alertmanager import routes
    from opsbook.web.problems import problem

    def guard(endpoint: Any) -> Any:
        async def guarded(request: Request) -> Response:
            try:
                who = await run_in_threadpool(
                    authenticate, store, request.headers.get("authorization")
                )
                who.require(Role.OPERATOR, "posting alerts")
            except OpsbookError as err:
                return problem(err.http_status, err.code, str(err), request.url.path)
            answer: Response = await endpoint(request)
            return answer

        return guarded

    for route in routes(lambda: (store, loaded)):
        assert isinstance(route, Route)
        app.router.routes.append(Route(route.path, guard(route.endpoint), methods=route.methods))
