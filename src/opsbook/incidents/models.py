"""The incident sections of opsbook.yaml: severities, oncall, contacts, escalation, schedules.

Cross-references (a severity's calendar, an escalation target, a schedule's runbook) are
checked by :mod:`opsbook.incidents.validate`, which reports them at their line.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from opsbook.spec.durations import Duration

NEXT_BUSINESS_DAY = "next-business-day"
ONCALL_PREFIX = "oncall:"
_HANDOFF = re.compile(r"^(?:(mon|tue|wed|thu|fri|sat|sun)\s+)?(\d{1,2}):(\d{2})$")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r}; use an IANA name such as Africa/Kigali or UTC"
        ) from None
    return value


def _names(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class Severity(_Model):
    """How fast an incident of this severity must be answered, who is paged, what follows."""

    respond: Duration | Literal["next-business-day"]
    """Response SLA: a duration (``15m``), or ``next-business-day`` on ``calendar``."""
    calendar: str | None = None
    """Business-hours calendar: needed by ``next-business-day``; with a duration, only
    business time counts."""
    page: bool = True
    """Page people through the escalation policy (False: record and notify no one)."""
    escalation: str | None = None
    """Escalation policy name; default ``default`` when one is declared."""
    postmortem: bool = False
    """A postmortem is required once the incident is resolved."""
    alerts: list[str] = Field(default_factory=list)
    """Alert severities (``critical``, ``warning``) that open incidents of this severity."""
    resolve_with_alert: bool = False
    """An incident opened by an alert resolves when the alert resolves."""
    description: str | None = None

    @field_validator("respond", mode="before")
    @classmethod
    def _respond(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() == NEXT_BUSINESS_DAY:
            return NEXT_BUSINESS_DAY
        return value

    @model_validator(mode="after")
    def _calendar_for_business_day(self) -> Severity:
        if self.respond == NEXT_BUSINESS_DAY and not self.calendar:
            raise ValueError("respond: next-business-day needs a calendar; add calendar: NAME")
        return self


class Override(_Model):
    """Someone else is on call for a date range (holiday swap, sick day)."""

    member: str
    start: dt.datetime = Field(alias="from")
    end: dt.datetime = Field(alias="to")

    @model_validator(mode="after")
    def _ordered(self) -> Override:
        if (self.start.tzinfo is None) != (self.end.tzinfo is None):
            raise ValueError("give both from and to with a UTC offset, or neither")
        if self.end <= self.start:
            raise ValueError("an override must end after it starts; swap from and to")
        return self


class OncallSchedule(_Model):
    """A rotation of members, handing off at a local time."""

    rotation: Literal["daily", "weekly", "custom"] = "weekly"
    every: Duration | None = None
    """Shift length of a ``custom`` rotation (``3d``, ``12h``)."""
    handoff: str = "mon 09:00"
    """When shifts change: ``mon 09:00`` (weekly), ``09:00`` (daily and custom)."""
    timezone: str = "UTC"
    start: dt.date = dt.date(2024, 1, 1)
    """The first shift, given to the first member, starts at the first handoff on this date
    or after it."""
    members: list[str]
    overrides: list[Override] = Field(default_factory=list)
    description: str | None = None

    _zone = field_validator("timezone")(_zone)

    @field_validator("members")
    @classmethod
    def _some_members(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("an on-call schedule needs at least one member")
        return value

    @field_validator("handoff")
    @classmethod
    def _handoff(cls, value: str) -> str:
        match = _HANDOFF.match(value.strip().lower())
        if not match or int(match.group(2)) > 23 or int(match.group(3)) > 59:
            raise ValueError(f"handoff {value!r} must look like 'mon 09:00' or '09:00'")
        return value.strip().lower()

    @model_validator(mode="after")
    def _rotation_fields(self) -> OncallSchedule:
        day = _HANDOFF.match(self.handoff)
        has_day = bool(day and day.group(1))
        if self.rotation == "custom" and not self.every:
            raise ValueError("a custom rotation needs every: (the shift length, e.g. 3d)")
        if self.rotation != "custom" and self.every is not None:
            raise ValueError("every: is for custom rotations; set rotation: custom or drop it")
        if self.rotation != "weekly" and has_day:
            raise ValueError(f"a {self.rotation} rotation hands off at a time ('09:00'), no day")
        return self

    @property
    def handoff_time(self) -> tuple[int | None, dt.time]:
        """(weekday 0-6 or None, local time) of the handoff."""
        match = _HANDOFF.match(self.handoff)
        assert match is not None  # validated
        weekday = _DAYS.index(match.group(1)) if match.group(1) else None
        return weekday, dt.time(int(match.group(2)), int(match.group(3)))


class Contact(_Model):
    """A person who can be paged, and where their pages go (``notify`` receivers)."""

    name: str | None = None
    receivers: list[str] = Field(default_factory=list)
    role: str | None = None
    email: str | None = None
    phone: str | None = None

    _one = field_validator("receivers", mode="before")(_names)


class Level(_Model):
    """One level of an escalation policy."""

    notify: list[str]
    """Contacts and ``oncall:SCHEDULE`` targets paged when the level starts."""
    ack_within: Duration | None = None
    """How long the level waits for an acknowledgement before the next one starts."""
    severities: list[str] | None = None
    """Only for incidents of these severities (default: all)."""
    hours: Literal["working", "outside"] | None = None
    """Only when the level starts inside (``working``) or outside the policy's calendar."""

    _one = field_validator("notify", "severities", mode="before")(_names)

    @field_validator("notify")
    @classmethod
    def _some(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("notify needs at least one contact or oncall:SCHEDULE")
        return value


class Policy(_Model):
    """Levels paged one after another until someone acknowledges."""

    levels: list[Level]
    repeat: int = Field(default=0, ge=0, le=10)
    """Start again from the first level this many times after the last one."""
    calendar: str | None = None
    """Working hours for levels with ``hours:``."""

    @model_validator(mode="before")
    @classmethod
    def _list_form(cls, value: Any) -> Any:
        return {"levels": value} if isinstance(value, list) else value

    @model_validator(mode="after")
    def _timed(self) -> Policy:
        if not self.levels:
            raise ValueError("an escalation policy needs at least one level")
        last = len(self.levels) - 1
        for index, level in enumerate(self.levels):
            if level.ack_within is None and (index < last or self.repeat):
                raise ValueError(
                    f"level {index + 1} needs ack_within: (how long before the next level)"
                )
        if any(level.hours for level in self.levels) and not self.calendar:
            raise ValueError("levels with hours: need the policy's calendar: NAME")
        return self


class Schedule(_Model):
    """A runbook run on a cron schedule by ``opsbook watch``."""

    cron: str
    runbook: str
    env: str
    params: dict[str, str] = Field(default_factory=dict)
    timezone: str = "UTC"
    description: str | None = None

    _zone = field_validator("timezone")(_zone)

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        from croniter import croniter

        if not isinstance(value, str) or len(value) > 200 or not croniter.is_valid(value):
            raise ValueError(
                f"cron {value!r} is not a cron expression; write 5 fields such as '0 9 * * 1-5'"
            )
        return value

    @field_validator("params", mode="before")
    @classmethod
    def _text_params(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: _scalar_text(v) for k, v in value.items()}
        return value


def _scalar_text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, int | float) else value
