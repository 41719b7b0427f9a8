"""Bounds on what a file or an expression may cost, checked before the work is done.

A 439-byte YAML alias bomb, ``4000000**4000000`` or ``fromJSON`` of 100,000 ``[`` must end in
one clear error within milliseconds, never in gigabytes of memory, a hang or a RecursionError.
"""

from __future__ import annotations

import math
import re
from typing import Any

ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
"""Ids of steps, runbooks, environments and checks (whole-string match: no trailing newline)."""
ID_RULE = "start with a letter or digit, hold only letters, digits, _ . -, at most 64 characters"

MAX_YAML_VALUES = 100_000
"""Values a file may hold once its aliases are expanded (a real opsbook.yaml holds hundreds)."""
MAX_POWER_BITS = 4096
"""Largest result of ``**`` (in bits); larger powers are refused before they are computed."""
MAX_STRING = 1_000_000
"""Longest string an expression may build or parse."""
MAX_JSON_DEPTH = 64


class LimitExceeded(ValueError):
    """Something costs more than its bound; the message names the bound and the fix."""


def id_problem(kind: str, value: str) -> str | None:
    """Why ``value`` is not a valid id, or None.

    >>> id_problem("step id", "deploy-1"), id_problem("step id", "x\\n") is not None
    (None, True)
    """
    if ID.fullmatch(value):
        return None
    shown = value if len(value) <= 40 else value[:40] + "..."
    return f"{kind} {shown!r} is not valid: ids {ID_RULE}"


def expanded_size(data: Any, limit: int = MAX_YAML_VALUES) -> int:
    """How many values ``data`` holds with shared (aliased) parts counted every time they appear.

    Each shared part is sized once (memoised), so this is linear in the parsed document even
    when its expansion would be exponential. Raises LimitExceeded past ``limit`` or on a cycle.
    """
    sizes: dict[int, int] = {}
    visiting: set[int] = set()

    def size(node: Any) -> int:
        if isinstance(node, dict):
            children: list[Any] = [*node.keys(), *node.values()]
        elif isinstance(node, list):
            children = list(node)
        else:
            return 1
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in visiting:
            raise LimitExceeded("an alias refers to the mapping or list that contains it")
        visiting.add(key)
        total = 1
        for child in children:
            total += size(child)
            if total > limit:
                raise LimitExceeded(
                    f"its aliases expand to more than {limit:,} values;"
                    " write the values out instead of nesting aliases"
                )
        visiting.discard(key)
        sizes[key] = total
        return total

    return size(data)


def check_power(base: Any, exponent: Any) -> None:
    """Refuse ``base ** exponent`` whose result would exceed MAX_POWER_BITS."""
    if isinstance(base, bool | int | float) and isinstance(exponent, bool | int | float):
        magnitude = abs(float(base))
        if magnitude <= 1 or exponent <= 1:
            return
        bits = float(exponent) * math.log2(magnitude)
        if bits > MAX_POWER_BITS:
            raise LimitExceeded(
                f"{base} ** {exponent} would be a number of about {bits:,.0f} bits;"
                f" powers are limited to {MAX_POWER_BITS} bits"
            )


def check_json(text: str) -> None:
    """Refuse JSON text longer than MAX_STRING or nested deeper than MAX_JSON_DEPTH."""
    if len(text) > MAX_STRING:
        raise LimitExceeded(
            f"fromJSON input is {len(text):,} characters; the limit is {MAX_STRING:,}"
        )
    depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise LimitExceeded(f"fromJSON input is nested deeper than {MAX_JSON_DEPTH} levels")
        elif ch in "]}":
            depth -= 1
