"""Silences: stored ones (``opsbook silence add``, with author, comment and expiry) and
recurring ones declared in opsbook.yaml (``every: sun 02:00-04:00``)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from opsbook.errors import UsageError
from opsbook.notify.config import RecurringSilence, check_matcher
from opsbook.notify.routing import all_match
from opsbook.notify.weekly import parse_every

if TYPE_CHECKING:
    from opsbook.store import Store


def recurring_active(silence: RecurringSilence, now: datetime) -> bool:
    from zoneinfo import ZoneInfo

    return parse_every(silence.every).contains(now.astimezone(ZoneInfo(silence.timezone)))


@dataclass
class Silence:
    id: str
    matchers: list[str]
    starts_at: float
    ends_at: float
    author: str
    comment: str
    created_at: float
    expired_at: float | None = None

    def active(self, at: float) -> bool:
        ended = self.ends_at if self.expired_at is None else min(self.ends_at, self.expired_at)
        return self.starts_at <= at < ended

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "matchers": self.matchers,
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "author": self.author,
            "comment": self.comment,
            "expired_at": self.expired_at,
        }


def add_silence(
    store: Store,
    project: str,
    matchers: list[str],
    *,
    now: datetime,
    duration: float,
    author: str,
    comment: str,
) -> Silence:
    """Store a silence from ``now`` for ``duration`` seconds; an event records who and why."""
    from opsbook.store import events
    from opsbook.store.monitoring import add_silence as insert

    if not matchers:
        raise UsageError(
            "a silence needs at least one matcher", hint='e.g. alertname="high_error_rate"'
        )
    for m in matchers:
        try:
            check_matcher(m)
        except ValueError as err:
            raise UsageError(str(err)) from None
    if not comment.strip():
        raise UsageError("a silence needs a comment", hint="say why with --comment TEXT")
    start = now.timestamp()
    silence = Silence(
        id=uuid.uuid4().hex[:12],
        matchers=matchers,
        starts_at=start,
        ends_at=start + duration,
        author=author,
        comment=comment,
        created_at=start,
    )
    with store.begin() as conn:
        insert(
            conn,
            {
                "project": project,
                **{k: v for k, v in silence.to_dict().items()},
                "created_at": start,
            },
        )
        events.append(
            conn, "silence.added", actor=author, data={"project": project, **silence.to_dict()}
        )
    return silence


def list_silences(store: Store, project: str) -> list[Silence]:
    from opsbook.store.monitoring import silence_rows

    with store.begin() as conn:
        rows = silence_rows(conn, project)
    return [
        Silence(
            r.id,
            list(r.matchers),
            r.starts_at,
            r.ends_at,
            r.author,
            r.comment,
            r.created_at,
            r.expired_at,
        )
        for r in rows
    ]


def expire_silence(
    store: Store, project: str, silence_id: str, *, now: datetime, author: str
) -> int:
    from opsbook.store import events
    from opsbook.store.monitoring import expire_silence as expire

    with store.begin() as conn:
        count = expire(conn, project, silence_id, now.timestamp())
        if count:
            events.append(
                conn, "silence.expired", actor=author, data={"project": project, "id": silence_id}
            )
    if not count:
        raise UsageError(
            f"no active silence with id {silence_id!r}", hint="see `opsbook silence list`"
        )
    return count


def silenced(
    labels: Mapping[str, str],
    stored: list[Silence],
    recurring: list[RecurringSilence],
    now: datetime,
) -> bool:
    """Whether any active silence matches these labels at ``now``."""
    at = now.timestamp()
    if any(s.active(at) and all_match(s.matchers, labels) for s in stored):
        return True
    return any(recurring_active(r, now) and all_match(r.matchers, labels) for r in recurring)


def window_end(duration: float, now: datetime) -> datetime:
    return now + timedelta(seconds=duration)
