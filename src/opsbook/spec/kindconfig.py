"""A plugin's configuration (a step kind's, a source kind's) validated against its type.

Each type gets one pydantic adapter, built once: building one costs more than validating a step
with it. Problems come back as (location below the key, message) pairs, so the validator can
name file:line.
"""

from __future__ import annotations

import functools
from typing import Any

from pydantic import TypeAdapter, ValidationError

Loc = tuple[str | int, ...]


@functools.cache
def _adapter(config_type: Any) -> TypeAdapter[Any]:
    """One adapter per kind's configuration type: building one costs more than validating a
    step with it (45 ms of a 1,000-step runbook's validation went to rebuilding them)."""
    return TypeAdapter(config_type)


def validate_kind_config(config_type: Any, value: Any) -> tuple[Any, list[tuple[Loc, str]]]:
    """Validate a step kind's configuration; returns the value and (loc, message) problems."""
    try:
        adapter = _adapter(config_type)
    except TypeError:  # a plugin's type that cannot be a cache key
        adapter = TypeAdapter(config_type)
    try:
        return adapter.validate_python(value), []
    except ValidationError as err:
        return None, [
            (
                tuple(p for p in e["loc"] if not (isinstance(p, str) and "[" in p)),
                e["msg"].removeprefix("Value error, "),
            )
            for e in err.errors()
        ]
