"""Escalation as a pure function: given the policy, the severity and when the incident opened,
which level starts when and whom it pages. The watcher pages what is due and not yet paged;
a drill prints the whole plan."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from opsbook import calendars
from opsbook.incidents.models import ONCALL_PREFIX, Policy
from opsbook.incidents.oncall import on_call
from opsbook.spec.models import Spec

DEFAULT_POLICY = "default"


@dataclass(frozen=True)
class Target:
    """A person a level pages, the escalation target that named them, and their receivers."""

    person: str
    via: str
    receivers: tuple[str, ...] = ()


@dataclass(frozen=True)
class LevelStart:
    """One level of one round, when it starts, and whom it pages."""

    key: str  # L<round>.<level>: the unique key of its pages
    level: int  # 1-based position in the policy
    round: int  # 0 for the first pass, 1.. for repeats
    at: dt.datetime
    targets: tuple[Target, ...] = field(default_factory=tuple)
    ack_within: float | None = None


def policy_for(spec: Spec, severity: str) -> tuple[str, Policy] | None:
    """The escalation policy of a severity: its own, else ``default``; None when none pages."""
    sev = spec.severities.get(severity)
    if sev is not None and not sev.page:
        return None
    name = (sev.escalation if sev is not None else None) or DEFAULT_POLICY
    policy = spec.escalation.get(name)
    return (name, policy) if policy is not None else None


def resolve_target(spec: Spec, target: str, at: dt.datetime) -> Target:
    """``oncall:primary`` → whoever is on call at ``at``; a contact → that contact."""
    person = target
    if target.startswith(ONCALL_PREFIX):
        person = on_call(spec.oncall[target.removeprefix(ONCALL_PREFIX)], at).member
    contact = spec.contacts.get(person)
    return Target(person, target, tuple(contact.receivers) if contact else ())


def plan(spec: Spec, severity: str, opened_at: dt.datetime) -> list[LevelStart]:
    """Every level start of the policy, in order, as if nobody ever acknowledged."""
    found = policy_for(spec, severity)
    if found is None:
        return []
    _, policy = found
    calendar = spec.calendars.get(policy.calendar) if policy.calendar else None
    starts: list[LevelStart] = []
    at = opened_at
    for round_ in range(policy.repeat + 1):
        for index, level in enumerate(policy.levels, start=1):
            if level.severities is not None and severity not in level.severities:
                continue
            if level.hours and calendar is not None:
                working = calendars.is_open(calendar, at)
                if working != (level.hours == "working"):
                    continue  # the alternative for the other hours; takes no time
            targets = tuple(resolve_target(spec, t, at) for t in level.notify)
            starts.append(
                LevelStart(f"L{round_}.{index}", index, round_, at, targets, level.ack_within)
            )
            if level.ack_within is None:
                return starts
            at = at + dt.timedelta(seconds=level.ack_within)
    return starts


def due(
    starts: list[LevelStart],
    now: dt.datetime,
    *,
    acked_at: dt.datetime | None,
    closed_at: dt.datetime | None,
) -> list[LevelStart]:
    """The level starts that should have paged by ``now``: started before any ack or close."""
    stop = min((t for t in (acked_at, closed_at) if t is not None), default=None)
    return [s for s in starts if s.at <= now and (stop is None or s.at < stop)]
