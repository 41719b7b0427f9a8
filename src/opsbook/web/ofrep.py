"""OFREP over HTTP: a plain ASGI app (no framework per request, since OFREP is on every page
view of an app); ``opsbook flags serve`` runs it alone and ``opsbook serve`` mounts it with
:func:`routes`.

Every request needs ``Authorization: Bearer TOKEN``, a token made with ``opsbook token create``
(any role may evaluate flags). A token's check is remembered for :data:`AUTH_TTL` seconds under
the SHA-256 of the header (the token itself is never kept), so a revoked token stops working
within that time; flag states are read on every evaluation, so ``opsbook flag kill`` takes
effect at the next one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.routing import BaseRoute, Route

from opsbook.auth import authenticate
from opsbook.errors import OpsbookError
from opsbook.flags.ofrep import MAX_BODY, Ofrep, Reply
from opsbook.spec.loader import LoadedSpec
from opsbook.store import Store
from opsbook.store.flags import StateReader

AUTH_TTL = 2.0
PREFIX = "/ofrep/v1/evaluate/flags"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


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


async def _body(receive: Receive) -> bytes:
    """The request body, cut just past MAX_BODY (so a huge body is refused, never buffered)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY or not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _send(send: Send, reply: Reply) -> None:
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers.items()]
    content = b""
    if reply.body is not None:
        text = json.dumps(reply.body, ensure_ascii=False, separators=(",", ":"))
        content = text.encode()
        headers.append((b"content-type", b"application/json"))
    headers.append((b"content-length", str(len(content)).encode()))
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": content})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


class OfrepApp:
    """The two OFREP endpoints over this project's flags and this store, as one ASGI app."""

    def __init__(self, *, store: Store, loaded: LoadedSpec) -> None:
        self.ofrep = Ofrep(loaded.spec.project, loaded.spec.flags, StateReader(store.engine))
        self.auth = _authenticator(store)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path != PREFIX and not path.startswith(PREFIX + "/"):
            await _send(send, Reply(404, {"errorCode": "GENERAL", "errorDetails": "not found"}))
            return
        if scope["method"] != "POST":
            refused = {"errorCode": "GENERAL", "errorDetails": "use POST"}
            await _send(send, Reply(405, refused, {"Allow": "POST"}))
            return
        body = await _body(receive)
        try:
            reply = self._answer(scope, path, body)
        except Exception:  # a bug: the client gets a 500 (not a dropped connection), the log why
            logging.getLogger("opsbook.ofrep").exception("OFREP evaluation failed at %s", path)
            reply = Reply(500, {"errorCode": "GENERAL", "errorDetails": "internal error"})
        await _send(send, reply)

    def _answer(self, scope: Scope, path: str, body: bytes) -> Reply:
        reply = self.auth(_header(scope, b"authorization"))
        if reply is not None:
            return reply
        try:
            if path == PREFIX:
                return self.ofrep.bulk(body, _header(scope, b"if-none-match"))
            return self.ofrep.one(path[len(PREFIX) + 1 :], body)
        except OpsbookError as err:  # the store went away: say so, never a traceback
            return Reply(err.http_status, {"errorCode": "GENERAL", "errorDetails": str(err)})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def routes(store: Store, loaded: LoadedSpec) -> list[BaseRoute]:
    """The two OFREP endpoints, as routes ``opsbook serve`` adds to its app."""
    handler = OfrepApp(store=store, loaded=loaded)
    return [
        Route(PREFIX + "/{key:path}", handler, methods=["POST"]),
        Route(PREFIX, handler, methods=["POST"]),
    ]


def app(store: Store, loaded: LoadedSpec) -> OfrepApp:
    """The ASGI app ``opsbook flags serve`` runs: only the OFREP routes."""
    return OfrepApp(store=store, loaded=loaded)


SPEC_ENV = "OPSBOOK_OFREP_SPEC"
STORE_ENV = "OPSBOOK_OFREP_STORE"
"""How ``serve`` tells its worker processes which opsbook.yaml and store to open."""


def worker_app() -> OfrepApp:
    """The app of one worker process of ``opsbook flags serve --workers N`` (each opens the spec
    and the store itself; flag states are read from the store on every evaluation, so a change
    reaches every worker at its next evaluation)."""
    import os
    from pathlib import Path

    from opsbook.spec.loader import load_spec
    from opsbook.store import open_store

    loaded = load_spec(Path(os.environ[SPEC_ENV]))
    store = open_store(os.environ.get(STORE_ENV) or None, root=loaded.root.resolve())
    return app(store, loaded)


def serve(
    store: Store,
    loaded: LoadedSpec,
    host: str,
    port: int,
    *,
    workers: int = 1,
    store_url: str | None = None,
) -> None:
    """Serve the OFREP routes with uvicorn (httptools and uvloop) until interrupted; with
    ``workers`` > 1, in that many processes sharing the port."""
    import os

    import uvicorn

    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "http": "httptools",
        "loop": "uvloop",
        "log_level": "warning",
        "access_log": False,
    }
    if workers == 1:
        uvicorn.run(app(store, loaded), **options)
        return
    store.close()
    os.environ[SPEC_ENV] = str(loaded.path)
    if store_url:
        os.environ[STORE_ENV] = store_url
    uvicorn.run("opsbook.web.ofrep:worker_app", factory=True, workers=workers, **options)
