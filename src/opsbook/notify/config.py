"""The ``notify:`` section: receivers, the routing tree, inhibition rules, silences.

Names, defaults and semantics follow Alertmanager's configuration: a route matches alerts by
label matchers, groups them by ``group_by`` and waits ``group_wait`` before the first
notification of a group, ``group_interval`` between updates, ``repeat_interval`` before
repeating an unchanged one.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator, model_validator

from opsbook.notify.weekly import parse_every
from opsbook.spec.durations import Duration
from opsbook.spec.strict import Model

MATCHER = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*$')


class PagerDuty(Model):
    """PagerDuty's Events API v2: the integration's routing key, and the events URL (another one
    for a proxy, an EU account's endpoint or a test)."""

    routing_key: str = Field(min_length=1)
    url: str = "https://events.pagerduty.com/v2/enqueue"

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("https://", "http://", "${{")):
            raise ValueError(
                "the events URL must start with https:// (or http:// for a local test server)"
            )
        return value


class Webhook(Model):
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    max_alerts: int = Field(default=0, ge=0)


class Receiver(Model):
    """Where notifications go: exactly one of ``apprise`` (any Apprise URL), ``pagerduty``
    (Events v2) or ``webhook`` (Alertmanager v4 JSON)."""

    description: str | None = None
    apprise: str | list[str] | None = None
    pagerduty: PagerDuty | None = None
    webhook: Webhook | None = None
    send_resolved: bool = True
    timeout: Duration = 10.0

    @field_validator("webhook", mode="before")
    @classmethod
    def _url_only(cls, value: Any) -> Any:
        return {"url": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_kind(self) -> Receiver:
        kinds = [k for k in ("apprise", "pagerduty", "webhook") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(
                "a receiver has exactly one of apprise, pagerduty, webhook; "
                f"got {', '.join(kinds) or 'none'}"
            )
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("apprise", "pagerduty", "webhook") if getattr(self, k) is not None)


def check_matcher(text: str) -> str:
    match = MATCHER.match(text)
    if not match:
        raise ValueError(f"matcher {text!r} is not 'label=\"value\"' (=, !=, =~ or !~)")
    if match.group(2) in ("=~", "!~"):
        try:
            re.compile(match.group(3))
        except re.error as err:
            raise ValueError(f"matcher {text!r}: bad regular expression: {err}") from None
    return text


def check_matchers(value: list[str]) -> list[str]:
    return [check_matcher(m) for m in value]


class Route(Model):
    """A node of the routing tree; children inherit what they do not set."""

    receiver: str | None = None
    matchers: list[str] = Field(default_factory=list)
    group_by: list[str] | None = None
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    continue_: bool = Field(default=False, alias="continue")
    routes: list[Route] = Field(default_factory=list)

    _matchers = field_validator("matchers")(check_matchers)


class Inhibit(Model):
    """Mute alerts matching ``target_matchers`` while an alert matching ``source_matchers`` fires
    with the same values of ``equal``."""

    source_matchers: list[str]
    target_matchers: list[str]
    equal: list[str] = Field(default_factory=list)

    _matchers = field_validator("source_matchers", "target_matchers")(check_matchers)


class RecurringSilence(Model):
    """A silence declared in the file: active in a weekly window (``every: sun 02:00-04:00``)."""

    matchers: list[str]
    every: str
    timezone: str = "UTC"
    comment: str | None = None

    _matchers = field_validator("matchers")(check_matchers)

    @field_validator("every")
    @classmethod
    def _every(cls, value: str) -> str:
        parse_every(value)
        return value


class Notify(Model):
    receivers: dict[str, Receiver] = Field(default_factory=dict)
    route: Route | None = None
    inhibit: list[Inhibit] = Field(default_factory=list)
    silences: list[RecurringSilence] = Field(default_factory=list)
