"""Response clocks: when an incident of a severity must be acknowledged."""

from __future__ import annotations

import datetime as dt

from opsbook import calendars
from opsbook.incidents.models import NEXT_BUSINESS_DAY, Severity
from opsbook.spec.models import Spec


def response_due(spec: Spec, severity: Severity, opened_at: dt.datetime) -> dt.datetime:
    """When the response SLA ends (aware, UTC).

    ``next-business-day`` is the opening of the next business day on the severity's calendar
    (a P3 opened Friday 17:00 in Kigali is due Monday 09:00, Tuesday when Monday is a holiday);
    a duration with a calendar counts business time only.
    """
    calendar = spec.calendars[severity.calendar] if severity.calendar else None
    if severity.respond == NEXT_BUSINESS_DAY:
        assert calendar is not None  # validated
        return calendars.next_business_day_open(calendar, opened_at).astimezone(dt.UTC)
    assert isinstance(severity.respond, float)
    if calendar is not None:
        due = calendars.add_business_seconds(calendar, opened_at, severity.respond)
        return due.astimezone(dt.UTC)
    return opened_at + dt.timedelta(seconds=severity.respond)
