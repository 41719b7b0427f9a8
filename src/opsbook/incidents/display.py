"""The time zone people read incident times in: the team's calendar, else its on-call zone."""

from __future__ import annotations

from opsbook.spec.models import Spec


def zone_name(spec: Spec) -> str | None:
    """The first calendar's zone, else the first on-call schedule's, else None (UTC)."""
    for calendar in spec.calendars.values():
        return calendar.timezone
    for schedule in spec.oncall.values():
        return schedule.timezone
    return None
