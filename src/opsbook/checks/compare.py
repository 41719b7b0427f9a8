"""Number comparisons in check expectations: ``"< 90"``, ``">= 1"``, ``"== 0"``, ``"!= 3"``, or a
plain number (equal). Validated when the file is read, so a typo names its line."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BeforeValidator

_FORM = re.compile(r"^\s*(<=|>=|==|!=|<|>)?\s*(-?\d+(?:\.\d+)?)\s*$")
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def _comparison(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"{value!r} is not a comparison; write e.g. '< 90', '>= 1' or 0")
    text = str(value)
    if not _FORM.match(text):
        raise ValueError(f"{text!r} is not a comparison; write e.g. '< 90', '>= 1', '== 0' or 0")
    return text.strip()


Comparison = Annotated[str, BeforeValidator(_comparison)]
"""A pydantic field type: an operator and a number, as text."""


def compare(comparison: str, actual: float) -> bool:
    """Whether ``actual`` satisfies the comparison.

    >>> compare("< 90", 42.0), compare(">= 1", 0.0), compare("3", 3.0)
    (True, False, True)
    """
    match = _FORM.match(comparison)
    if match is None:
        raise ValueError(f"{comparison!r} is not a comparison")
    op, number = match.group(1) or "==", float(match.group(2))
    return _OPS[op](actual, number)


def first_number(text: str) -> float | None:
    """The first number in a text, or None.

    >>> first_number(" 87% used"), first_number("none")
    (87.0, None)
    """
    found = NUMBER.search(text)
    return float(found.group()) if found else None
