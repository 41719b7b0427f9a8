"""Alertmanager's intake, ``POST /api/v2/alerts``, as Starlette routes.

``opsbook serve`` mounts :func:`routes`; ``opsbook watch --listen`` serves :func:`app` alone.
A team's Prometheus sends its alerts here by listing opsbook as an Alertmanager::

    alerting:
      alertmanagers: [{static_configs: [{targets: ["127.0.0.1:9093"]}]}]
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from opsbook.clock import utcnow
from opsbook.errors import OpsbookError

if TYPE_CHECKING:
    from opsbook.spec.loader import LoadedSpec
    from opsbook.store import Store

MAX_BODY = 4 * 1024 * 1024


def routes(
    context: Callable[[], tuple[Store, LoadedSpec]], clock: Callable[[], datetime] | None = None
) -> list[Route]:
    """The intake routes; ``context`` gives the store and spec to use for each request and
    ``clock`` the current time (``watch --now`` shifts it; default: the real clock)."""

    async def post_alerts(request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        from opsbook.notify.intake import receive_alerts

        raw = await request.body()
        if len(raw) > MAX_BODY:
            return JSONResponse({"error": f"body over {MAX_BODY} bytes"}, status_code=413)
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):  # RecursionError: nested too deeply
            return JSONResponse({"error": "the body is not JSON"}, status_code=400)
        store, loaded = context()
        try:
            await run_in_threadpool(receive_alerts, store, loaded, body, (clock or utcnow)())
        except OpsbookError as err:
            return JSONResponse({"error": str(err)}, status_code=err.http_status)
        return Response(status_code=200)

    async def status(request: Request) -> Response:
        return JSONResponse({"cluster": {"status": "ready"}, "versionInfo": {"program": "opsbook"}})

    return [
        Route("/api/v2/alerts", post_alerts, methods=["POST"]),
        Route("/api/v2/status", status, methods=["GET"]),
    ]


def app(store: Store, loaded: LoadedSpec, clock: Callable[[], datetime] | None = None) -> Starlette:
    """A standalone ASGI app serving only the intake."""
    return Starlette(routes=routes(lambda: (store, loaded), clock))
