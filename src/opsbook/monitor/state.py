"""The alert state machine, with Prometheus' rule semantics, as a pure function.

    inactive ──true──► pending ──true for `for`──► firing ──false longer than keep_firing_for──►
       ▲                  │                                                   inactive (resolved)
       └──────false───────┘

A ``for: 0m`` rule goes from inactive to firing at once. No data is neither true nor false: the
rule's ``on_nodata`` keeps the state (``keep``), treats it as true (``alert``) or false (``ok``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from typing import Any, Literal


class AlertState(StrEnum):
    INACTIVE = "inactive"  # not true now (resolved_at says when it last stopped firing)
    PENDING = "pending"  # true, for less than the rule's `for`
    FIRING = "firing"  # true for `for`, or within keep_firing_for of last being true


@dataclass(frozen=True)
class Instance:
    """One alert instance (one label set) as stored between evaluations."""

    state: AlertState = AlertState.INACTIVE
    active_at: float | None = None
    firing_since: float | None = None
    resolved_at: float | None = None
    last_true_at: float | None = None
    value: float | None = None
    nodata: bool = False


@dataclass(frozen=True)
class Rule:
    """What the state machine needs of an alert rule."""

    for_: float = 0.0
    keep_firing_for: float = 0.0
    on_nodata: Literal["keep", "alert", "ok"] = "keep"


def step(
    prev: Instance, holds: bool | None, value: float | None, rule: Rule, now: float
) -> Instance:
    """The instance after one evaluation at ``now``; ``holds`` None means no data."""
    if holds is None:
        if rule.on_nodata == "keep":
            return replace(prev, nodata=True, value=None)
        holds = rule.on_nodata == "alert"
        nodata = True
    else:
        nodata = False
    base = replace(prev, value=value, nodata=nodata)
    if holds:
        base = replace(base, last_true_at=now)
        if prev.state == AlertState.INACTIVE:
            base = replace(base, state=AlertState.PENDING, active_at=now, firing_since=None)
        if base.state == AlertState.PENDING and now - (base.active_at or now) >= rule.for_:
            base = replace(base, state=AlertState.FIRING, firing_since=now, resolved_at=None)
        return base
    if prev.state == AlertState.PENDING:
        return replace(base, state=AlertState.INACTIVE, active_at=None)
    if prev.state == AlertState.FIRING:
        last = prev.last_true_at if prev.last_true_at is not None else now
        if rule.keep_firing_for and now - last < rule.keep_firing_for:
            return base
        return replace(
            base, state=AlertState.INACTIVE, active_at=None, firing_since=None, resolved_at=now
        )
    return base


def transition(prev: Instance, new: Instance) -> str | None:
    """The event name of a state change (``alert.pending``, ``alert.firing``,
    ``alert.resolved``, ``alert.inactive`` for a pending alert that stopped), or None."""
    if prev.state == new.state:
        return None
    if new.state == AlertState.INACTIVE:
        return "alert.resolved" if prev.state == AlertState.FIRING else "alert.inactive"
    return f"alert.{new.state.value}"


@dataclass
class Transition:
    """An alert instance changed state at ``at`` (UNIX seconds of the evaluation's ``now``).

    ``event`` is ``alert.pending``, ``alert.firing``, ``alert.resolved`` or ``alert.inactive``.
    ``group_key`` is the key the root route groups it under (incidents open one per group).
    """

    alert: str
    event: str
    at: float
    labels: dict[str, str]
    annotations: dict[str, str]
    fingerprint: str
    value: float | None
    severity: str
    group_key: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
