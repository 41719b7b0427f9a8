"""clock.parse_time: every form a person types for --now, and the hostile ones."""

from __future__ import annotations

import doctest
from datetime import UTC, datetime

import pytest

from opsbook import clock
from opsbook.errors import UsageError

REF = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)  # a Tuesday


@pytest.mark.parametrize(
    ("text", "tz", "expected"),
    [
        ("2026-11-27T17:00:00Z", None, "2026-11-27T17:00:00Z"),
        ("2026-11-27T17:00:00+02:00", None, "2026-11-27T15:00:00Z"),
        ("2026-11-27 17:00", "Africa/Kigali", "2026-11-27T15:00:00Z"),
        ("2026-11-27", None, "2026-11-27T00:00:00Z"),
        ("now", None, "2026-12-01T21:00:00Z"),
        ("", None, "2026-12-01T21:00:00Z"),
        ("-2h", None, "2026-12-01T19:00:00Z"),
        ("now-1d", None, "2026-11-30T21:00:00Z"),
        ("+30m", None, "2026-12-01T21:30:00Z"),
        ("@0", None, "1970-01-01T00:00:00Z"),
        ("fri 17:00", "Africa/Kigali", "2026-12-04T15:00:00Z"),
        ("Tuesday 22:00", None, "2026-12-01T22:00:00Z"),
        ("tue 20:00", None, "2026-12-08T20:00:00Z"),
    ],
)
def test_forms(text: str, tz: str | None, expected: str) -> None:
    assert clock.isoformat(clock.parse_time(text, now=REF, tz=tz)) == expected


def test_weekday_across_a_dst_change_keeps_local_wall_time() -> None:
    before_change = datetime(2026, 10, 20, 12, 0, tzinfo=UTC)
    moment = clock.parse_time("mon 09:00", now=before_change, tz="Europe/Berlin")
    assert moment.astimezone(clock.zone("Europe/Berlin")).hour == 9
    assert clock.isoformat(moment) == "2026-10-26T08:00:00Z"  # CET after the change


@pytest.mark.parametrize(
    "text",
    [
        "yesterday",
        "2026-13-01",
        "fri 25:00",
        "blursday 10:00",
        "-2 fortnights",
        "@nan-ish",
        "@1e400",
        "x" * 10_000,
        "-99999999999d",
        "2026-11-27T17:00:00Z; rm -rf /",
    ],
)
def test_hostile_values_are_one_usage_error(text: str) -> None:
    with pytest.raises(UsageError) as info:
        clock.parse_time(text, now=REF)
    assert "--now" in str(info.value)
    assert len(str(info.value)) < 400


def test_unknown_zone_names_the_fix() -> None:
    with pytest.raises(UsageError, match="IANA"):
        clock.parse_time("now", tz="Mars/Olympus")


def test_docstring_examples_hold() -> None:
    result = doctest.testmod(clock)
    assert result.attempted >= 6
    assert result.failed == 0
