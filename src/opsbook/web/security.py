"""Who is calling: a bearer token or a dashboard session (with its CSRF token on mutations)."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from opsbook.auth import Principal, Role, authenticate, session
from opsbook.errors import Forbidden, Unauthenticated
from opsbook.web.context import ctx

SESSION_COOKIE = "opsbook_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

bearer = HTTPBearer(auto_error=False, description="An API token from `opsbook token create`.")


async def current(
    request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]
) -> Principal:
    """The caller; Unauthenticated (401) without valid credentials.

    A session cookie counts too (the dashboard and its htmx calls), but then a mutation must
    carry the session's CSRF token: the ``X-CSRF-Token`` header or a ``csrf`` form field.
    """
    store = ctx(request).store
    given = creds.credentials if creds is not None else request.headers.get("authorization")
    if given:  # a non-Bearer scheme is refused by authenticate
        return await run_in_threadpool(authenticate, store, given)
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise Unauthenticated("no credentials", hint="send Authorization: Bearer TOKEN or log in")
    live = await run_in_threadpool(session, store, cookie)
    if request.method not in SAFE_METHODS:
        token = request.headers.get(CSRF_HEADER)
        if token is None and "form" in request.headers.get("content-type", ""):
            field = (await request.form()).get("csrf")
            token = field if isinstance(field, str) else None
        check_csrf(live.csrf, token)
    return live.principal


def csrf_of(request: Request) -> str | None:
    """The CSRF token of the request's session, for forms (None without a session)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    try:
        return session(ctx(request).store, cookie).csrf
    except Unauthenticated:
        return None


def check_csrf(expected: str, given: str | None) -> None:
    if not given or not hmac.compare_digest(expected, given):
        raise Forbidden("missing or wrong CSRF token", hint="reload the page and try again")


def need(role: Role, action: str) -> Callable[..., Principal]:
    """A dependency: the caller, who must have at least ``role``."""

    def dependency(who: Annotated[Principal, Depends(current)]) -> Principal:
        who.require(role, action)
        return who

    return dependency
