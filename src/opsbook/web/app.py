"""The ASGI app: API, dashboard, static files, and the routes other packages contribute."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from opsbook import __version__
from opsbook.web import api, monitoring, ops, pages, problems
from opsbook.web.context import ServeContext
from opsbook.web.feed import EventHub


def create_app(context: ServeContext) -> FastAPI:
    """The app for one store; ``context.hub`` streams events once the app has started."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        hub = EventHub(context.store)
        context.hub = hub
        await hub.start()
        try:
            yield
        finally:
            await hub.close()

    app = FastAPI(
        title="opsbook",
        version=__version__,
        description="Runs, approvals, releases and the audit log of an opsbook project.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.ctx = context
    app.state.nav = []  # (label, path) of pages other packages add
    problems.install(app)
    app.include_router(api.router)
    app.include_router(ops.api)
    app.include_router(pages.router)
    app.include_router(ops.pages)
    app.include_router(monitoring.api)
    app.include_router(monitoring.pages)
    app.state.nav.extend([*monitoring.NAV, *ops.NAV])
    _mount_contributed(app, context)
    static = Path(__file__).parent / "static"
    app.mount("/static", StaticFiles(directory=static), name="static")

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """Liveness: answers without credentials."""
        return {"status": "ok"}

    return app


def _mount_contributed(app: FastAPI, context: ServeContext) -> None:
    """OFREP flag evaluation (/ofrep/v1/...) and Alertmanager's intake (/api/v2/alerts) over
    the project's opsbook.yaml, when it loads."""
    from opsbook.errors import OpsbookError
    from opsbook.spec.loader import load_spec
    from opsbook.web import ofrep

    try:
        loaded = load_spec(context.spec_file)
    except OpsbookError:
        return  # serve still runs the worker and the API; `opsbook validate` says what is wrong
    app.router.routes.extend(ofrep.routes(context.store, loaded))
    monitoring.mount_intake(app, context.store, loaded)
