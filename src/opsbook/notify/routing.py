"""The routing tree: which receivers get an alert, grouped how, on which timers.

Alertmanager's semantics: a route matches when all its matchers do; the first matching child
wins unless it says ``continue: true``; a route with no matching child handles the alert itself;
children inherit receiver, grouping and timers. Defaults: group_wait 30s, group_interval 5m,
repeat_interval 4h, group_by [alertname].
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from opsbook.notify.config import MATCHER, Route

GROUP_WAIT = 30.0
GROUP_INTERVAL = 300.0
REPEAT_INTERVAL = 4 * 3600.0


@dataclass(frozen=True)
class Delivery:
    """Where one alert goes: a receiver with its grouping and timers."""

    receiver: str
    group_by: tuple[str, ...]
    group_wait: float
    group_interval: float
    repeat_interval: float
    route_key: str


def matches(matcher: str, labels: Mapping[str, str]) -> bool:
    """Whether labels satisfy one matcher (``severity="critical"``, ``team=~"a|b"``)."""
    found = MATCHER.match(matcher)
    if not found:
        return False
    name, op, value = found.groups()
    actual = labels.get(name, "")
    if op == "=":
        return actual == value
    if op == "!=":
        return actual != value
    full = re.fullmatch(value, actual) is not None
    return full if op == "=~" else not full


def all_match(matchers: list[str], labels: Mapping[str, str]) -> bool:
    return all(matches(m, labels) for m in matchers)


def route(root: Route, labels: Mapping[str, str]) -> list[Delivery]:
    """Every delivery of an alert with these labels."""
    base = Delivery(
        receiver=root.receiver or "",
        group_by=tuple(root.group_by or ["alertname"]),
        group_wait=GROUP_WAIT if root.group_wait is None else root.group_wait,
        group_interval=GROUP_INTERVAL if root.group_interval is None else root.group_interval,
        repeat_interval=REPEAT_INTERVAL if root.repeat_interval is None else root.repeat_interval,
        route_key="{}",
    )
    return list(_walk(root, labels, base))


def _inherit(route_: Route, parent: Delivery, key: str) -> Delivery:
    return Delivery(
        receiver=route_.receiver or parent.receiver,
        group_by=tuple(route_.group_by) if route_.group_by is not None else parent.group_by,
        group_wait=parent.group_wait if route_.group_wait is None else route_.group_wait,
        group_interval=(
            parent.group_interval if route_.group_interval is None else route_.group_interval
        ),
        repeat_interval=(
            parent.repeat_interval if route_.repeat_interval is None else route_.repeat_interval
        ),
        route_key=key,
    )


def _walk(node: Route, labels: Mapping[str, str], here: Delivery) -> Iterator[Delivery]:
    matched_child = False
    for child in node.routes:
        if not all_match(child.matchers, labels):
            continue
        key = here.route_key + "/{" + ",".join(child.matchers) + "}"
        yield from _walk(child, labels, _inherit(child, here, key))
        matched_child = True
        if not child.continue_:
            break
    if not matched_child:
        yield here


def group_key(
    route_key: str, group_by: tuple[str, ...] | list[str], labels: Mapping[str, str]
) -> str:
    """Alertmanager's group key: ``{}/{severity="critical"}:{alertname="HighErrors"}``."""
    chosen = sorted(labels) if "..." in group_by else sorted(g for g in group_by if g in labels)
    inner = ", ".join(f'{k}="{labels[k]}"' for k in chosen)
    return f"{route_key}:{{{inner}}}"
