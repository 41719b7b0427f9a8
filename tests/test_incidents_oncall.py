"""Who is on call: rotations hand off at a local time (across DST), overrides win, validation
names the line."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from opsbook.errors import SpecError
from opsbook.incidents.models import OncallSchedule
from opsbook.incidents.oncall import next_shift, on_call
from opsbook.spec.loader import validate_text

BERLIN = ZoneInfo("Europe/Berlin")


def at(text: str, zone: ZoneInfo = BERLIN) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=zone).astimezone(dt.UTC)


def schedule(**fields: object) -> OncallSchedule:
    base: dict[str, object] = {"timezone": "Europe/Berlin", "members": ["a", "b", "c"]}
    return OncallSchedule.model_validate({**base, **fields})


def test_weekly_rotation_hands_off_monday_0900_local_across_dst() -> None:
    weekly = schedule(handoff="mon 09:00", start="2026-03-16")
    assert on_call(weekly, at("2026-03-16 08:59")).member == "c"  # the shift before the start
    assert on_call(weekly, at("2026-03-16 09:00")).member == "a"
    assert on_call(weekly, at("2026-03-22 23:00")).member == "a"
    # Summer time starts on Sunday 29 March: Monday's handoff is still 09:00 in Berlin.
    shift = on_call(weekly, at("2026-03-30 09:00"))
    assert shift.member == "c" and shift.start == at("2026-03-30 09:00")
    assert shift.start.hour == 7  # 09:00 CEST is 07:00 UTC (it was 08:00 UTC a week before)
    assert next_shift(weekly, at("2026-03-30 10:00")).member == "a"


def test_daily_and_custom_rotations() -> None:
    daily = schedule(rotation="daily", handoff="09:00", start="2026-11-02")
    assert [on_call(daily, at(f"2026-11-0{d} 10:00")).member for d in (2, 3, 4, 5)] == [
        "a",
        "b",
        "c",
        "a",
    ]
    assert on_call(daily, at("2026-11-03 08:00")).member == "a"  # before the 09:00 handoff
    custom = schedule(rotation="custom", every="12h", handoff="08:00", start="2026-11-02")
    assert [on_call(custom, at(f"2026-11-02 {h}")).member for h in ("08:00", "19:59", "20:00")] == [
        "a",
        "a",
        "b",
    ]


def test_an_override_wins_for_its_range_only() -> None:
    weekly = schedule(
        handoff="mon 09:00",
        start="2026-11-02",
        overrides=[{"member": "c", "from": "2026-11-04 18:00", "to": "2026-11-05 08:00"}],
    )
    assert on_call(weekly, at("2026-11-04 17:59")).member == "a"
    shift = on_call(weekly, at("2026-11-04 18:00"))
    assert (shift.member, shift.override, shift.end) == ("c", True, at("2026-11-05 08:00"))
    assert on_call(weekly, at("2026-11-05 08:00")).member == "a"


SPEC = """version: 1
project: shop
contacts:
  aline: {}
oncall:
  primary:
    rotation: weekly
    handoff: "mon 09:00"
    timezone: Africa/Kigali
    members: [aline]
escalation:
  default:
    - {notify: oncall:primary, ack_within: 1h}
    - {notify: aline}
"""


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        ('handoff: "mon 09:00"', 'handoff: "monday 9am"', 8, "must look like 'mon 09:00'"),
        ("rotation: weekly", "rotation: daily", 6, "a daily rotation hands off at a time"),
        ("rotation: weekly", "rotation: custom", 6, "a custom rotation needs every:"),
        ("timezone: Africa/Kigali", "timezone: Mars/Base", 9, "unknown time zone 'Mars/Base'"),
        ("members: [aline]", "members: []", 10, "at least one member"),
        ("members: [aline]", "members: [alina]", 10, "unknown contact 'alina'; did you mean"),
        ("notify: aline}", "notify: bob}", 14, "unknown contact 'bob'"),
        ("oncall:primary, ack", "oncall:secondary, ack", 13, "unknown on-call schedule"),
        ("ack_within: 1h}", "ack_within: soon}", 13, "'soon' is not a duration"),
        (
            "- {notify: oncall:primary, ack_within: 1h}",
            "- {notify: oncall:primary}",
            12,
            "level 1 needs ack_within",
        ),
    ],
)
def test_bad_oncall_and_escalation_name_the_line(
    old: str, new: str, line: int, message: str
) -> None:
    with pytest.raises(SpecError) as info:
        validate_text(SPEC.replace(old, new, 1), "opsbook.yaml")
    found = [str(p) for p in info.value.problems]
    assert any(p.startswith(f"opsbook.yaml:{line}: ") and message in p for p in found), found
