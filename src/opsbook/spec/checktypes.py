"""Binding a named check (``checks:`` in opsbook.yaml) to its check type.

The one key of a check that names a registered type selects it; the check's other keys
(besides ``description`` and ``timeout``) are validated against that type's model. Problems come
back as (location below the check, message) pairs, so the validator can name file:line.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from opsbook.checks.registry import check_type_names, get_check_type

if TYPE_CHECKING:
    from opsbook.spec.models import Check

Loc = tuple[str | int, ...]
COMMON_CHECK_FIELDS = ("description", "timeout")
"""The keys every check has, whatever its type."""


def bind_check(check: Check) -> list[tuple[Loc, str]]:
    """Select the check's type and validate its keys; binds the check when there is no problem."""
    extras = dict(check.model_extra or {})
    names = check_type_names()
    types = [key for key in extras if key in names]
    if not types:
        return [_no_type(extras, names)]
    if len(types) > 1:
        return [((types[1],), f"check has two types ({types[0]} and {types[1]}); split it in two")]
    ctype = get_check_type(types[0])
    try:
        config = ctype.config_type.model_validate(extras)
    except ValidationError as err:
        allowed = [*COMMON_CHECK_FIELDS, *_fields(ctype.config_type)]
        return [_problem(error, allowed, types[0]) for error in err.errors()]
    check.bind(types[0], config)
    return []


def _no_type(extras: dict[str, object], names: list[str]) -> tuple[Loc, str]:
    for key in extras:
        close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
        if close:
            return (key,), f"unknown key '{key}'; did you mean '{close[0]}'?"
    where: Loc = (next(iter(extras)),) if extras else ()
    return where, "check has no type; add one of: " + ", ".join(names)


def _fields(model: type[object]) -> list[str]:
    fields = getattr(model, "model_fields", {})
    return [info.alias or name for name, info in fields.items()]


def _problem(error: ErrorDetails, allowed: list[str], type_name: str) -> tuple[Loc, str]:
    raw = error.get("loc", ())
    loc: Loc = (
        tuple(p for p in raw if isinstance(p, int) or (isinstance(p, str) and "[" not in p))
        if isinstance(raw, tuple)
        else ()
    )
    kind = str(error.get("type", ""))
    if kind == "extra_forbidden" and len(loc) == 1:
        key = str(loc[0])
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        fix = (
            f"did you mean '{close[0]}'?"
            if close
            else f"a {type_name} check takes: " + ", ".join(allowed)
        )
        return loc, f"unknown key '{key}'; {fix}"
    if kind == "extra_forbidden":
        return loc, f"unknown key '{loc[-1]}'"
    if kind == "missing":
        return loc, f"required key '{loc[-1]}' is missing; add it"
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    if kind.endswith("_type") or kind.endswith("_parsing"):
        got = repr(error.get("input"))
        message += f" (got {got if len(got) <= 40 else got[:37] + '...'})"
    return loc, message
