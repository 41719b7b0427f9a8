"""Time as an input: the one parser for every ``--now TIME`` (and ``--from``/``--to``/``--since``).

Everything time-dependent in opsbook is a function of an explicit instant, so a replay over
recorded logs, an escalation drill and a test run the same code as production. This module turns
what a person types into an aware UTC ``datetime``:

>>> ref = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)          # a Tuesday
>>> parse_time("2026-11-27T17:00:00Z").isoformat()
'2026-11-27T17:00:00+00:00'
>>> parse_time("2026-11-27 17:00", tz="Africa/Kigali").isoformat()
'2026-11-27T15:00:00+00:00'
>>> parse_time("-2h", now=ref).isoformat()
'2026-12-01T19:00:00+00:00'
>>> parse_time("now+90m", now=ref).isoformat()
'2026-12-01T22:30:00+00:00'
>>> parse_time("fri 17:00", now=ref, tz="Africa/Kigali").isoformat()
'2026-12-04T15:00:00+00:00'

Accepted forms: ISO 8601 (a date, a date and time, ``Z`` or an offset; a time without an offset
is read in ``tz``, default UTC), ``now``, a signed duration relative to now (``-2h``,
``now-1d``, ``+30m``), Unix seconds (``@1764615600``), and ``DAY HH:MM`` (``fri 17:00``, the
next such moment at or after now, in ``tz``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from opsbook.errors import UsageError
from opsbook.spec.durations import parse_duration

_DAYS = {
    name: index
    for index, names in enumerate(
        [
            ("mon", "monday"),
            ("tue", "tues", "tuesday"),
            ("wed", "wednesday"),
            ("thu", "thur", "thurs", "thursday"),
            ("fri", "friday"),
            ("sat", "saturday"),
            ("sun", "sunday"),
        ]
    )
    for name in names
}
_RELATIVE = re.compile(r"^(?:now)?\s*([+-])\s*(\S+)$")
_WEEKDAY = re.compile(r"^([a-z]+)\s+(\d{1,2}):(\d{2})$")
_FORMS = "an ISO 8601 time (2026-11-27T17:00:00Z), 'now', '-2h', '@UNIXSECONDS' or 'fri 17:00'"


def utcnow() -> datetime:
    """The real current time, aware, in UTC. The only place opsbook reads the wall clock for
    ``--now``'s default."""
    return datetime.now(UTC)


def zone(name: str | None) -> ZoneInfo:
    """A time zone by IANA name (``Africa/Kigali``); UTC when ``name`` is empty."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f"unknown time zone {name!r}",
            hint="use an IANA name such as Europe/Berlin, Africa/Kigali or UTC",
        ) from None


def parse_time(
    text: str | datetime | None,
    *,
    now: datetime | None = None,
    tz: str | ZoneInfo | None = None,
    option: str = "--now",
) -> datetime:
    """Parse a user-typed instant (see the module docstring) into an aware UTC datetime.

    ``None`` or an empty string is ``now`` (the real clock unless ``now`` is given). Bad input
    raises :class:`UsageError` naming ``option`` and the accepted forms.
    """
    reference = (now or utcnow()).astimezone(UTC)
    where = tz if isinstance(tz, ZoneInfo) else zone(tz)
    if isinstance(text, datetime):
        return _aware(text, where)
    value = (text or "").strip()
    if value.lower() in ("", "now"):
        return reference
    if len(value) > 64:
        raise UsageError(f"{option}: {value[:64]!r}... is too long for a time", hint=_FORMS)
    lowered = value.lower()
    if lowered.startswith("@"):
        return _unix(value[1:], option)
    relative = _RELATIVE.match(lowered)
    if relative and not re.match(r"^\d{4}-", value):
        return _relative(reference, relative.group(1), relative.group(2), option, value)
    weekday = _WEEKDAY.match(lowered)
    if weekday:
        return _next_weekday(reference, weekday, where, option, value)
    try:
        parsed = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise UsageError(f"{option}: {value!r} is not a time", hint=f"write {_FORMS}") from None
    return _aware(parsed, where)


def isoformat(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``, to the second: what every ``--json`` prints.

    >>> isoformat(datetime(2026, 12, 1, 9, 30, 15, 123000, tzinfo=UTC))
    '2026-12-01T09:30:15Z'
    """
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _aware(moment: datetime, where: ZoneInfo) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=where)
    return moment.astimezone(UTC)


def _unix(digits: str, option: str) -> datetime:
    try:
        return datetime.fromtimestamp(float(digits), UTC)
    except (ValueError, OverflowError, OSError):
        raise UsageError(
            f"{option}: '@{digits}' is not a Unix time", hint="write @ and whole seconds"
        ) from None


def _relative(reference: datetime, sign: str, amount: str, option: str, value: str) -> datetime:
    try:
        seconds = parse_duration(amount)
        delta = timedelta(seconds=seconds)
        return reference + delta if sign == "+" else reference - delta
    except (ValueError, OverflowError):
        raise UsageError(
            f"{option}: {value!r} is not a time", hint=f"write {_FORMS}; units: s, m, h, d"
        ) from None


def _next_weekday(
    reference: datetime, match: re.Match[str], where: ZoneInfo, option: str, value: str
) -> datetime:
    day, hour, minute = match.group(1), int(match.group(2)), int(match.group(3))
    if day not in _DAYS or hour > 23 or minute > 59:
        raise UsageError(f"{option}: {value!r} is not a time", hint=f"write {_FORMS}")
    local = reference.astimezone(where)
    ahead = (_DAYS[day] - local.weekday()) % 7
    candidate = (local + timedelta(days=ahead)).replace(
        hour=hour, minute=minute, second=0, microsecond=0
    )
    if candidate < local:
        candidate += timedelta(days=7)
    # Re-attach the zone so a DST change between today and that day is honoured.
    return candidate.replace(tzinfo=None).replace(tzinfo=where).astimezone(UTC)
