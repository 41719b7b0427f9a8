"""Who is on call: a pure function of a schedule and an instant.

Shifts are counted from the first handoff on or after the schedule's ``start`` date, in the
schedule's time zone, so a handoff at ``mon 09:00`` stays at 09:00 local across DST changes.
An override covering the instant wins over the rotation (the last listed, if several do).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from opsbook.incidents.models import OncallSchedule
from opsbook.spec.models import Spec


@dataclass(frozen=True)
class Shift:
    """One person's time on call."""

    member: str
    start: dt.datetime
    end: dt.datetime
    override: bool = False


def _local(day: dt.date, time: dt.time, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, time, zone).astimezone(dt.UTC)


def rotation_shift(schedule: OncallSchedule, at: dt.datetime) -> Shift:
    """The rotation's shift holding ``at`` (overrides ignored)."""
    zone = ZoneInfo(schedule.timezone)
    weekday, time = schedule.handoff_time
    local = at.astimezone(zone)
    members = schedule.members
    if schedule.rotation == "custom":
        assert schedule.every is not None  # validated
        anchor = _local(schedule.start, time, zone)
        index = int((at - anchor).total_seconds() // schedule.every)
        start = anchor + dt.timedelta(seconds=index * schedule.every)
        end = start + dt.timedelta(seconds=schedule.every)
        return Shift(members[index % len(members)], start, end)
    if schedule.rotation == "daily":
        step, first, day = 1, schedule.start, local.date()
    else:  # weekly: shifts start on the handoff's weekday (the start date's, if none is given)
        weekday = schedule.start.weekday() if weekday is None else weekday
        step = 7
        first = schedule.start + dt.timedelta(days=(weekday - schedule.start.weekday()) % 7)
        day = local.date() - dt.timedelta(days=(local.weekday() - weekday) % 7)
    if _local(day, time, zone) > at:
        day -= dt.timedelta(days=step)
    index = (day - first).days // step
    start = _local(day, time, zone)
    end = _local(day + dt.timedelta(days=step), time, zone)
    return Shift(members[index % len(members)], start, end)


def _override_bounds(value: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    return (value if value.tzinfo else value.replace(tzinfo=zone)).astimezone(dt.UTC)


def on_call(schedule: OncallSchedule, at: dt.datetime) -> Shift:
    """Who is on call at ``at``: an override covering it, else the rotation."""
    zone = ZoneInfo(schedule.timezone)
    for override in reversed(schedule.overrides):
        start = _override_bounds(override.start, zone)
        end = _override_bounds(override.end, zone)
        if start <= at < end:
            return Shift(override.member, start, end, override=True)
    return rotation_shift(schedule, at)


def next_shift(schedule: OncallSchedule, at: dt.datetime) -> Shift:
    """The shift that follows the one holding ``at``."""
    return on_call(schedule, on_call(schedule, at).end)


@dataclass(frozen=True)
class Duty:
    """A schedule's current and next shift."""

    schedule: str
    current: Shift
    next: Shift


def roster(spec: Spec, at: dt.datetime) -> list[Duty]:
    """Every schedule's shift at ``at`` and the one after it."""
    return [
        Duty(name, on_call(schedule, at), next_shift(schedule, at))
        for name, schedule in spec.oncall.items()
    ]
