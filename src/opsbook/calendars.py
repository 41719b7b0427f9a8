"""Business-hours calendars: a time zone, working days, opening hours and holidays.

Declared under ``calendars:`` in opsbook.yaml and used by severities (``next-business-day``
response clocks), escalation branches on working hours and SLOs that count only business time::

    calendars:
      business-hours:
        timezone: Africa/Kigali
        days: [mon, tue, wed, thu, fri]
        hours: "09:00-17:00"
        holidays: {country: RW, dates: ["2026-12-24"]}

Every function is a pure function of the calendar and timezone-aware instants; results are in
the calendar's time zone. Holidays come from the ``holidays`` package (by country and
subdivision) plus explicit dates.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_MAX_DAYS_AHEAD = 3660  # a calendar open on no day at all would otherwise loop forever


class Holidays(BaseModel):
    """Closed days: a country's public holidays (``holidays`` package) and explicit dates."""

    model_config = ConfigDict(extra="forbid")

    country: str | None = None
    """ISO 3166-1 code (``RW``, ``US``, ``DE``)."""
    subdivision: str | None = None
    """A state or province code of that country (``CA``, ``BY``)."""
    dates: list[dt.date] = Field(default_factory=list)

    @field_validator("country")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        if value is not None:
            from holidays.utils import list_supported_countries

            if value.upper() not in list_supported_countries():
                raise ValueError(
                    f"unknown holiday country {value!r}; use an ISO 3166-1 code such as RW or US"
                )
            return value.upper()
        return value

    @model_validator(mode="after")
    def _known_subdivision(self) -> Holidays:
        if self.subdivision is None:
            return self
        if self.country is None:
            raise ValueError("a holiday subdivision needs its country; add country:")
        from holidays.utils import list_supported_countries

        known = list_supported_countries()[self.country]
        if self.subdivision not in known:
            raise ValueError(
                f"{self.country} has no subdivision {self.subdivision!r}; "
                f"known: {', '.join(known[:12])}{' ...' if len(known) > 12 else ''}"
            )
        return self


class Calendar(BaseModel):
    """When a team works: time zone, days, hours (``"09:00-17:00"``, end exclusive), holidays."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str
    days: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")
    hours: str = "09:00-17:00"
    holidays: Holidays = Field(default_factory=Holidays)
    description: str | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as Africa/Kigali or UTC"
            ) from None
        return value

    @field_validator("days", mode="before")
    @classmethod
    def _lower_days(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return tuple(v.lower() if isinstance(v, str) else v for v in value)
        return value

    @field_validator("days")
    @classmethod
    def _some_days(cls, value: tuple[Weekday, ...]) -> tuple[Weekday, ...]:
        if not value:
            raise ValueError("a calendar needs at least one working day, e.g. [mon, tue, wed]")
        return value

    @field_validator("hours")
    @classmethod
    def _valid_hours(cls, value: str) -> str:
        parse_hours(value)
        return value

    @field_validator("holidays", mode="before")
    @classmethod
    def _country_shorthand(cls, value: Any) -> Any:
        return {"country": value} if isinstance(value, str) else value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def opening_hours(self) -> tuple[dt.time, dt.time | None]:
        """Opening and closing time; closing None means midnight (``"00:00-24:00"``)."""
        return parse_hours(self.hours)


def parse_hours(text: str) -> tuple[dt.time, dt.time | None]:
    """``"08:00-18:00"`` → (08:00, 18:00); an end of ``24:00`` is returned as None (midnight).

    >>> parse_hours("08:00-18:00")
    (datetime.time(8, 0), datetime.time(18, 0))
    """
    match = _HOURS.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"hours {text!r} must look like 09:00-17:00")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
        raise ValueError(f"hours {text!r} holds a time that does not exist; use 00:00 to 24:00")
    start = dt.time(h1, m1)
    end = None if h2 == 24 else dt.time(h2, m2)
    if end is not None and end <= start:
        raise ValueError(
            f"hours {text!r} must open before they close; overnight hours are not supported"
        )
    return start, end


@functools.lru_cache(maxsize=64)
def _country_holidays(country: str, subdivision: str | None) -> Any:
    import holidays

    return holidays.country_holidays(country, subdiv=subdivision)


def holiday_name(calendar: Calendar, day: dt.date) -> str | None:
    """The name of the holiday on ``day`` (local date), or None on an ordinary day."""
    if day in calendar.holidays.dates:
        return "holiday"
    if calendar.holidays.country:
        found = _country_holidays(calendar.holidays.country, calendar.holidays.subdivision)
        name = found.get(day)
        return str(name) if name else None
    return None


def is_business_day(calendar: Calendar, day: dt.date) -> bool:
    """Whether ``day`` (a local date) is a working day and not a holiday."""
    return WEEKDAYS[day.weekday()] in calendar.days and holiday_name(calendar, day) is None


def _aware(at: dt.datetime) -> dt.datetime:
    """``at`` in UTC: Python compares and subtracts datetimes of one zone by wall clock."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{at.isoformat()} has no time zone; pass an aware datetime")
    return at.astimezone(dt.UTC)


def day_window(calendar: Calendar, day: dt.date) -> tuple[dt.datetime, dt.datetime] | None:
    """Opening and closing instants (in UTC) of a local date, or None when it is closed."""
    if not is_business_day(calendar, day):
        return None
    start, end = calendar.opening_hours
    zone = calendar.zone
    opens = dt.datetime.combine(day, start, zone)
    if end is None:
        closes = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), zone)
    else:
        closes = dt.datetime.combine(day, end, zone)
    return opens.astimezone(dt.UTC), closes.astimezone(dt.UTC)


def is_open(calendar: Calendar, at: dt.datetime) -> bool:
    """Whether ``at`` falls inside business hours (opening inclusive, closing exclusive)."""
    utc = _aware(at)
    window = day_window(calendar, utc.astimezone(calendar.zone).date())
    return window is not None and window[0] <= utc < window[1]


def next_open(calendar: Calendar, at: dt.datetime) -> dt.datetime:
    """``at`` itself when open, else the next opening after it.

    A Saturday afternoon gives Monday's opening (Tuesday's when Monday is a holiday).
    """
    utc = _aware(at)
    day = utc.astimezone(calendar.zone).date()
    for _ in range(_MAX_DAYS_AHEAD):
        window = day_window(calendar, day)
        if window is not None and utc < window[1]:
            return max(utc, window[0]).astimezone(calendar.zone)
        day += dt.timedelta(days=1)
    raise ValueError(f"calendar has no business day within {_MAX_DAYS_AHEAD} days")


def next_business_day_open(calendar: Calendar, at: dt.datetime) -> dt.datetime:
    """The opening of the first business day after ``at``'s local date.

    A P3 opened Friday 17:00 is due Monday at opening; Tuesday when Monday is a holiday.
    """
    day = _aware(at).astimezone(calendar.zone).date() + dt.timedelta(days=1)
    for _ in range(_MAX_DAYS_AHEAD):
        window = day_window(calendar, day)
        if window is not None:
            return window[0].astimezone(calendar.zone)
        day += dt.timedelta(days=1)
    raise ValueError(f"calendar has no business day within {_MAX_DAYS_AHEAD} days")


def business_seconds(calendar: Calendar, start: dt.datetime, end: dt.datetime) -> float:
    """Seconds of business time between two instants (0 when ``end`` is not after ``start``)."""
    start, end = _aware(start), _aware(end)
    if end <= start:
        return 0.0
    zone = calendar.zone
    day = start.astimezone(zone).date() - dt.timedelta(days=1)
    last = end.astimezone(zone).date()
    total = 0.0
    while day <= last:
        window = day_window(calendar, day)
        if window is not None:
            lo, hi = max(window[0], start), min(window[1], end)
            if hi > lo:
                total += (hi - lo).total_seconds()
        day += dt.timedelta(days=1)
    return total


def add_business_seconds(calendar: Calendar, start: dt.datetime, seconds: float) -> dt.datetime:
    """The instant when ``seconds`` of business time have passed since ``start``."""
    zone = calendar.zone
    at = _aware(next_open(calendar, start))
    left = max(0.0, seconds)
    for _ in range(_MAX_DAYS_AHEAD):
        window = day_window(calendar, at.astimezone(zone).date())
        if window is None:  # next_open returned an instant inside a window; never None
            break
        room = (window[1] - at).total_seconds()
        if left <= room:
            return (at + dt.timedelta(seconds=left)).astimezone(zone)
        left -= room
        at = _aware(next_open(calendar, window[1]))
    raise ValueError(f"calendar has no business day within {_MAX_DAYS_AHEAD} days")
