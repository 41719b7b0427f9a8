"""Times in the HTTP API: ISO 8601 in UTC, as in every ``--json`` of the CLI.

The store keeps seconds since the epoch. :class:`IsoJSONResponse` (the default response of every
``/api/v1`` route) writes them as :func:`opsbook.isotime.with_iso_times` does, and
:data:`IsoTime` does the same for a response model's field, so the OpenAPI schema says
``string``, ``date-time``. Alertmanager's intake (``/api/v2``) and OFREP keep their own formats.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import PlainSerializer, WithJsonSchema
from starlette.responses import JSONResponse

from opsbook.isotime import iso8601, with_iso_times

IsoTime = Annotated[
    float,
    PlainSerializer(iso8601, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}, mode="serialization"),
]
"""Seconds since the epoch in Python; ISO 8601 UTC in JSON (``2026-12-01T21:52:41.5Z``)."""


class IsoJSONResponse(JSONResponse):
    """JSON whose epoch times (under ``*_at``, ``since``, ``until`` keys) are ISO 8601."""

    def render(self, content: Any) -> bytes:
        return super().render(with_iso_times(content))
