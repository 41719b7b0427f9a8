"""Business-hours calendars: opening hours, next business day, holidays, business seconds."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from opsbook.calendars import (
    Calendar,
    add_business_seconds,
    business_seconds,
    holiday_name,
    is_open,
    next_business_day_open,
    next_open,
)
from opsbook.errors import SpecError
from opsbook.spec.loader import validate_text

KIGALI = ZoneInfo("Africa/Kigali")
RWANDA = Calendar(
    timezone="Africa/Kigali",
    hours="09:00-17:00",
    holidays={"country": "RW"},  # type: ignore[arg-type]
)


def kigali(year: int, month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=KIGALI)


def test_p3_opened_friday_evening_is_due_monday_morning() -> None:
    friday = kigali(2026, 11, 27, 17)
    assert friday.strftime("%a") == "Fri"
    assert next_business_day_open(RWANDA, friday) == kigali(2026, 11, 30, 9)


def test_a_monday_public_holiday_moves_it_to_tuesday() -> None:
    # Liberation Day (4 July 2026) is a Saturday; Rwanda observes it on Monday 6 July.
    friday = kigali(2026, 7, 3, 17)
    assert holiday_name(RWANDA, dt.date(2026, 7, 6)) is not None
    assert next_business_day_open(RWANDA, friday) == kigali(2026, 7, 7, 9)


def test_explicit_dates_close_a_day_too() -> None:
    closed = Calendar(
        timezone="Africa/Kigali", hours="09:00-17:00", holidays={"dates": ["2026-11-30"]}
    )  # type: ignore[arg-type]
    assert next_business_day_open(closed, kigali(2026, 11, 27, 17)) == kigali(2026, 12, 1, 9)
    assert holiday_name(closed, dt.date(2026, 11, 30)) == "holiday"
    assert holiday_name(closed, dt.date(2026, 12, 1)) is None


def test_open_hours_include_the_opening_and_exclude_the_closing_minute() -> None:
    assert is_open(RWANDA, kigali(2026, 11, 27, 9))
    assert is_open(RWANDA, kigali(2026, 11, 27, 16, 59))
    assert not is_open(RWANDA, kigali(2026, 11, 27, 17))
    assert not is_open(RWANDA, kigali(2026, 11, 28, 12))  # Saturday
    # The same instant given in UTC (Kigali is UTC+2) answers the same.
    assert is_open(RWANDA, dt.datetime(2026, 11, 27, 7, tzinfo=dt.UTC))
    assert not is_open(RWANDA, dt.datetime(2026, 11, 27, 6, 59, tzinfo=dt.UTC))


def test_next_open_is_now_inside_hours_and_the_next_opening_outside() -> None:
    inside = kigali(2026, 11, 26, 10, 30)
    assert next_open(RWANDA, inside) == inside
    assert next_open(RWANDA, kigali(2026, 11, 26, 6)) == kigali(2026, 11, 26, 9)
    assert next_open(RWANDA, kigali(2026, 11, 27, 18)) == kigali(2026, 11, 30, 9)
    assert next_open(RWANDA, kigali(2026, 7, 3, 18)) == kigali(2026, 7, 7, 9)


def test_business_seconds_count_only_open_hours() -> None:
    # Friday 16:00 → Monday 10:00: one hour on Friday, one on Monday.
    assert business_seconds(RWANDA, kigali(2026, 11, 27, 16), kigali(2026, 11, 30, 10)) == 7200
    # A whole week: five days of eight hours.
    week = business_seconds(RWANDA, kigali(2026, 11, 23, 0), kigali(2026, 11, 30, 0))
    assert week == 5 * 8 * 3600
    assert business_seconds(RWANDA, kigali(2026, 11, 30, 10), kigali(2026, 11, 27, 16)) == 0


def test_business_seconds_across_a_dst_change_use_wall_clock_hours() -> None:
    berlin = Calendar(timezone="Europe/Berlin", days=["sun", "mon"], hours="00:00-24:00")  # type: ignore[arg-type]
    zone = ZoneInfo("Europe/Berlin")
    # Sunday 29 March 2026 has 23 hours in Berlin.
    start = dt.datetime(2026, 3, 29, 0, tzinfo=zone)
    end = dt.datetime(2026, 3, 30, 0, tzinfo=zone)
    assert business_seconds(berlin, start, end) == 23 * 3600
    assert is_open(berlin, dt.datetime(2026, 3, 29, 23, 30, tzinfo=zone))


def test_add_business_seconds_carries_over_nights_and_weekends() -> None:
    due = add_business_seconds(RWANDA, kigali(2026, 11, 27, 16), 4 * 3600)
    assert due == kigali(2026, 11, 30, 12)
    assert add_business_seconds(RWANDA, kigali(2026, 11, 26, 10), 3600) == kigali(2026, 11, 26, 11)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        is_open(RWANDA, dt.datetime(2026, 11, 27, 10))


def test_a_calendar_open_on_no_day_stops_instead_of_looping() -> None:
    closed = Calendar(timezone="UTC", days=["mon"], holidays={"dates": []})  # type: ignore[arg-type]
    assert next_open(closed, dt.datetime(2026, 11, 24, tzinfo=dt.UTC)).weekday() == 0


SPEC = """version: 1
project: shop
calendars:
  business-hours:
    timezone: Africa/Kigali
    days: [mon, tue, wed, thu, fri]
    hours: "08:00-18:00"
    holidays: {country: RW, dates: ["2026-12-24"]}
"""


def test_calendars_load_from_opsbook_yaml() -> None:
    calendar = validate_text(SPEC, "opsbook.yaml").spec.calendars["business-hours"]
    assert calendar.days == ("mon", "tue", "wed", "thu", "fri")
    assert calendar.holidays.country == "RW"
    # 24 December is closed by date; Christmas and Boxing Day (observed Monday 28) by country.
    assert next_open(calendar, kigali(2026, 12, 24, 10)) == kigali(2026, 12, 29, 8)


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        ("Africa/Kigali", "Africa/Kigal", 5, "unknown time zone 'Africa/Kigal'"),
        ("Africa/Kigali", "../../etc/passwd", 5, "unknown time zone"),
        ("[mon, tue,", "[mon, funday,", 6, "calendars.business-hours.days[1]"),
        ("08:00-18:00", "18:00-08:00", 7, "must open before they close"),
        ("08:00-18:00", "8am-6pm", 7, "must look like 09:00-17:00"),
        ("08:00-18:00", "08:00-25:00", 7, "does not exist"),
        ("country: RW", "country: ZZ", 8, "unknown holiday country 'ZZ'"),
        ("country: RW", "country: RW, subdivision: XX", 8, "RW has no subdivision 'XX'"),
        ('"2026-12-24"', '"2026-13-24"', 8, "calendars.business-hours.holidays.dates[0]"),
        ("days: [mon, tue, wed, thu, fri]", "days: []", 6, "at least one working day"),
        ("    hours:", "    horus:", 7, "unknown key 'horus'; did you mean 'hours'?"),
    ],
)
def test_bad_calendars_name_the_line_and_the_fix(
    old: str, new: str, line: int, message: str
) -> None:
    with pytest.raises(SpecError) as info:
        validate_text(SPEC.replace(old, new, 1), "opsbook.yaml")
    (problem,) = info.value.problems
    assert str(problem).startswith(f"opsbook.yaml:{line}: ")
    assert message in str(problem)
