"""OFREP routes for Starlette: ``opsbook flags serve`` runs these alone; ``opsbook serve`` mounts
them with :func:`routes`.

Every request needs ``Authorization: Bearer TOKEN``, a token made with ``opsbook token create``
(any role may evaluate flags). A token's check is remembered for :data:`AUTH_TTL` seconds, so a
revoked token stops working within that time; flag states are read on every evaluation.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from opsbook.auth import authenticate
from opsbook.errors import OpsbookError
from opsbook.flags.ofrep import MAX_BODY, Ofrep, Reply
from opsbook.spec.loader import LoadedSpec
from opsbook.store import Store
from opsbook.store.flags import StateReader

AUTH_TTL = 2.0


def _respond(reply: Reply) -> Response:
    if reply.body is None:
        return Response(status_code=reply.status, headers=reply.headers)
    content = json.dumps(reply.body, ensure_ascii=False, separators=(",", ":"))
    return Response(content, reply.status, reply.headers, media_type="application/json")


def _authenticator(store: Store) -> Callable[[str | None], Reply | None]:
    """Checks bearer tokens against the store, remembering good ones for AUTH_TTL seconds."""
    good: dict[str, float] = {}

    def check(header: str | None) -> Reply | None:
        digest = hashlib.sha256((header or "").encode()).hexdigest()
        now = time.monotonic()
        if good.get(digest, 0.0) > now:
            return None
        try:
            authenticate(store, header)
        except OpsbookError as err:
            return Reply(err.http_status, {"errorCode": "GENERAL", "errorDetails": str(err)})
        if len(good) > 1000:
            good.clear()
        good[digest] = now + AUTH_TTL
        return None

    return check


async def _body(request: Request) -> bytes:
    """The request body, cut just past MAX_BODY (so a huge body is refused, never buffered)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY:
            break
    return b"".join(chunks)


def routes(store: Store, loaded: LoadedSpec) -> list[BaseRoute]:
    """The two OFREP endpoints over this project's flags and this store."""
    ofrep = Ofrep(loaded.spec.project, loaded.spec.flags, StateReader(store.engine))
    auth = _authenticator(store)

    async def handle(request: Request, answer: Callable[[bytes], Reply]) -> Response:
        body = await _body(request)
        reply = auth(request.headers.get("authorization"))
        if reply is None:
            try:
                reply = answer(body)
            except OpsbookError as err:  # the store went away: say so, never a traceback
                reply = Reply(err.http_status, {"errorCode": "GENERAL", "errorDetails": str(err)})
        return _respond(reply)

    async def one(request: Request) -> Response:
        key = request.path_params["key"]
        return await handle(request, lambda body: ofrep.one(key, body))

    async def bulk(request: Request) -> Response:
        etag = request.headers.get("if-none-match")
        return await handle(request, lambda body: ofrep.bulk(body, etag))

    return [
        Route("/ofrep/v1/evaluate/flags/{key:path}", one, methods=["POST"]),
        Route("/ofrep/v1/evaluate/flags", bulk, methods=["POST"]),
    ]


def app(store: Store, loaded: LoadedSpec) -> Starlette:
    """An ASGI app serving only the OFREP routes (``opsbook flags serve``)."""
    return Starlette(routes=routes(store, loaded))


def serve(store: Store, loaded: LoadedSpec, host: str, port: int) -> None:
    """Serve the OFREP routes with uvicorn until interrupted."""
    import uvicorn

    uvicorn.run(app(store, loaded), host=host, port=port, log_level="warning", access_log=False)
