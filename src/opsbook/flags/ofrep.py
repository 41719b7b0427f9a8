"""The OpenFeature Remote Evaluation Protocol, independent of any web framework.

``POST /ofrep/v1/evaluate/flags/{key}`` with ``{"context": {...}}`` answers
``{key, value, reason, variant, metadata}`` (200), ``FLAG_NOT_FOUND`` (404), or
``PARSE_ERROR`` / ``INVALID_CONTEXT`` / ``TARGETING_KEY_MISSING`` (400).
``POST /ofrep/v1/evaluate/flags`` evaluates every flag: ``{"flags": [...]}`` with an ``ETag``;
a request whose ``If-None-Match`` names the current one gets 304 and no body.

:class:`Ofrep` reads the stored state on every evaluation, so a change (``opsbook flag kill``)
is effective at the next one. ``web/ofrep.py`` adapts it to Starlette.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opsbook.flags.evaluate import Evaluation, EvaluationError, evaluate
from opsbook.flags.models import Flag
from opsbook.flags.state import FlagState
from opsbook.store import flags as q
from opsbook.utf8 import is_text

MAX_BODY = 64 * 1024
"""Bytes of request body read at most; a larger context is refused."""


@dataclass(frozen=True)
class Reply:
    """What to answer: an HTTP status, a JSON body (None: no body) and headers."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def _error(status: int, code: str, details: str, key: str | None = None) -> Reply:
    body: dict[str, Any] = {"errorCode": code, "errorDetails": details}
    if key is not None:
        body = {"key": key, **body}
    return Reply(status, body)


class Ofrep:
    """Evaluates a project's flags for OFREP requests."""

    def __init__(self, project: str, flags: Mapping[str, Flag], reader: q.StateReader) -> None:
        self.project = project
        self.flags = dict(flags)
        self.reader = reader

    def _state(self, key: str, flag: Flag) -> FlagState:
        row = self.reader.get(self.project, key)
        if row is None:
            return FlagState.initial(flag)
        return FlagState(row.enabled, row.percent, row.overrides)

    def _evaluate(self, key: str, context: Mapping[str, Any]) -> Evaluation:
        flag = self.flags[key]
        return evaluate(key, flag, self._state(key, flag), context)

    def one(self, key: str, body: bytes) -> Reply:
        """``POST /ofrep/v1/evaluate/flags/{key}``."""
        context = parse_context(body)
        if isinstance(context, Reply):
            return Reply(context.status, {"key": key, **context.body})
        if key not in self.flags:
            return _error(404, "FLAG_NOT_FOUND", f"flag {key[:100]!r} is not declared", key)
        try:
            return Reply(200, self._evaluate(key, context).to_json())
        except EvaluationError as err:
            return _error(400, err.code, err.message, key)

    def bulk(self, body: bytes, if_none_match: str | None) -> Reply:
        """``POST /ofrep/v1/evaluate/flags``: every flag, with an ETag."""
        context = parse_context(body)
        if isinstance(context, Reply):
            return context
        answers: list[dict[str, Any]] = []
        for key in self.flags:
            try:
                answers.append(self._evaluate(key, context).to_json())
            except EvaluationError as err:
                answers.append({"key": key, "errorCode": err.code, "errorDetails": err.message})
        payload = {"flags": answers}
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
        etag = f'"{digest[:32]}"'
        if if_none_match and etag in [t.strip() for t in if_none_match.split(",")]:
            return Reply(304, None, {"ETag": etag})
        return Reply(200, payload, {"ETag": etag})


def parse_context(body: bytes) -> dict[str, Any] | Reply:
    """The evaluation context of a request body, or the 400 reply saying what is wrong."""
    if len(body) > MAX_BODY:
        return _error(400, "INVALID_CONTEXT", f"the request body is over {MAX_BODY} bytes")
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return _error(400, "PARSE_ERROR", "the request body is not JSON")
    if not isinstance(data, dict):
        return _error(400, "INVALID_CONTEXT", 'send {"context": {"targetingKey": ...}}')
    if not is_text(data):
        return _error(
            400, "INVALID_CONTEXT", "a string holds a lone surrogate (\\ud800 to \\udfff)"
        )
    context = data.get("context", {})
    if not isinstance(context, dict):
        return _error(400, "INVALID_CONTEXT", "context must be a JSON object")
    target = context.get("targetingKey")
    if target is not None and not isinstance(target, str):
        return _error(400, "INVALID_CONTEXT", "targetingKey must be a string")
    return context
