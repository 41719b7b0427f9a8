"""Errors as RFC 9457 problem details (``application/problem+json``) with errors.py's code.

The dashboard gets HTML instead: a login redirect for 401, an error page otherwise.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, RedirectResponse, Response

from opsbook.errors import OpsbookError

TYPE_BASE = "https://opsbook.dev/problems/"


def problem(status: int, code: str, detail: str, instance: str, **extra: Any) -> JSONResponse:
    body = {
        "type": TYPE_BASE + code,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": instance,
        "code": code,
        **extra,
    }
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status, headers=headers, media_type="application/problem+json")


def wants_html(request: Request) -> bool:
    path = request.url.path
    if path.startswith("/api/") or path.startswith("/ofrep/"):
        return False
    return "text/html" in request.headers.get("accept", "") or request.method == "POST"


def _html(request: Request, status: int, detail: str) -> Response:
    if status == 401 and not request.url.path.startswith("/approve/"):
        return RedirectResponse(f"/login?next={request.url.path}", 303)
    from opsbook.web.pages import render

    return render(request, "error.html", {"status": status, "detail": detail}, status=status)


def install(app: FastAPI) -> None:
    async def opsbook_error(request: Request, err: Exception) -> Response:
        assert isinstance(err, OpsbookError)
        status = err.http_status if err.http_status >= 400 else 409
        if wants_html(request):
            return _html(request, status, str(err))
        return problem(status, err.code, str(err), request.url.path)

    async def http_error(request: Request, err: Exception) -> Response:
        assert isinstance(err, HTTPException)
        code = HTTPStatus(err.status_code).phrase.lower().replace(" ", "_")
        if wants_html(request) and err.status_code != 405:
            return _html(request, err.status_code, str(err.detail))
        return problem(err.status_code, code, str(err.detail), request.url.path)

    async def invalid(request: Request, err: Exception) -> Response:
        assert isinstance(err, RequestValidationError)
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in err.errors()
        ]
        detail = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors)[:500]
        return problem(422, "invalid_request", detail, request.url.path, errors=errors[:20])

    async def invalid_model(request: Request, err: Exception) -> Response:
        assert isinstance(err, ValidationError)
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()
        )[:500]
        if wants_html(request):
            return _html(request, 422, detail)
        return problem(422, "invalid_request", detail, request.url.path)

    app.add_exception_handler(ValidationError, invalid_model)
    app.add_exception_handler(OpsbookError, opsbook_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
