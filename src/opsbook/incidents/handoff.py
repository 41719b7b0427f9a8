"""The on-call handoff report (seed 003's checklist, as data): what the next person must know.

Each section is an item provider registered in :data:`ITEMS`, a function of (context) that
returns rows; parts of opsbook that own other state (alerts, SLOs, flags) add theirs with
:func:`register`. A provider whose tables do not exist yet returns nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from opsbook.clock import isoformat, parse_time
from opsbook.incidents import schedules
from opsbook.incidents.service import from_row
from opsbook.incidents.states import ACTIVE, ScheduleEvent
from opsbook.spec.loader import LoadedSpec
from opsbook.store import Store
from opsbook.store import events as chain
from opsbook.store import incidents as q

DEFAULT_SINCE = dt.timedelta(hours=24)
"""Without an earlier handoff, the report covers the last day."""
ROLLED_BACK = ("rolled_back",)
FINISHED = ("succeeded", "failed", "rolled_back", "aborted")
"""Runs still going are not releases yet: waiting ones have their own section."""


@dataclass(frozen=True)
class HandoffContext:
    """What a provider may read."""

    store: Store
    loaded: LoadedSpec
    since: dt.datetime
    now: dt.datetime


Provider = Callable[[HandoffContext], list[dict[str, Any]]]


@dataclass(frozen=True)
class Item:
    key: str
    title: str
    provider: Provider


ITEMS: list[Item] = []


def register(key: str, title: str) -> Callable[[Provider], Provider]:
    """Add a section to the handoff report (``@register("flags", "Flags mid-rollout")``)."""

    def add(provider: Provider) -> Provider:
        ITEMS[:] = [i for i in ITEMS if i.key != key]
        ITEMS.append(Item(key, title, provider))
        return provider

    return add


@dataclass
class Report:
    since: dt.datetime
    now: dt.datetime
    sections: list[tuple[Item, list[dict[str, Any]]]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"since": isoformat(self.since), "now": isoformat(self.now)}
        for item, rows in self.sections:
            out[item.key] = rows
        out["counts"] = {item.key: len(rows) for item, rows in self.sections}
        return out


def _ts(value: float | None) -> str | None:
    return None if value is None else isoformat(dt.datetime.fromtimestamp(value, dt.UTC))


@register("releases", "Releases since the last handoff")
def _releases(c: HandoffContext) -> list[dict[str, Any]]:
    from opsbook.history import _changes_things

    with c.store.begin() as conn:
        runs = q.runs_since(conn, c.loaded.spec.project, c.since.timestamp(), c.now.timestamp())
    return [
        {
            "run": r.id,
            "runbook": r.runbook,
            "environment": r.environment,
            "version": (r.params or {}).get("version"),
            "status": r.status,
            "operator": r.operator,
            "started_at": _ts(r.created_at),
        }
        for r in runs
        if r.status in FINISHED
        and r.status not in ROLLED_BACK
        and _changes_things(r.spec_text, r.runbook)
    ]


@register("rollbacks", "Rollbacks since the last handoff")
def _rollbacks(c: HandoffContext) -> list[dict[str, Any]]:
    with c.store.begin() as conn:
        runs = q.runs_since(conn, c.loaded.spec.project, c.since.timestamp(), c.now.timestamp())
    return [
        {
            "run": r.id,
            "runbook": r.runbook,
            "environment": r.environment,
            "status": r.status,
            "error": r.error,
            "at": _ts(r.finished_at or r.created_at),
        }
        for r in runs
        if r.status in ROLLED_BACK
    ]


@register("incidents", "Open incidents and their clocks")
def _incidents(c: HandoffContext) -> list[dict[str, Any]]:
    with c.store.begin() as conn:
        rows = q.list_incidents(conn, c.loaded.spec.project, statuses=[str(s) for s in ACTIVE])
    out = []
    for incident in map(from_row, rows):
        due = incident.due_at
        left = None if due is None else int((due - c.now).total_seconds())
        out.append(
            {
                "incident": incident.ref,
                "title": incident.title,
                "severity": incident.severity,
                "status": str(incident.status),
                "opened_at": isoformat(incident.opened_at),
                "due_at": isoformat(due) if due else None,
                "seconds_left": left if incident.acked_at is None else None,
                "breached": incident.breached_at is not None,
                "acked_by": incident.acked_by,
            }
        )
    return out


@register("alerts", "Firing alerts")
def _alerts(c: HandoffContext) -> list[dict[str, Any]]:
    from opsbook.monitor.evaluate import load_statuses
    from opsbook.monitor.state import AlertState

    out = []
    for status in load_statuses(c.store, c.loaded.spec.project).values():
        if status.state != AlertState.FIRING:
            continue
        since = status.instance.firing_since
        out.append(
            {
                "alert": status.alert,
                "severity": status.severity,
                "summary": status.annotations.get("summary"),
                "value": status.instance.value,
                "firing_since": _ts(since),
                "firing_seconds": None if since is None else int(c.now.timestamp() - since),
            }
        )
    return out


@register("silences", "Active silences")
def _silences(c: HandoffContext) -> list[dict[str, Any]]:
    from opsbook.notify.silences import list_silences

    at = c.now.timestamp()
    return [
        {
            "silence": s.id,
            "matchers": s.matchers,
            "author": s.author,
            "comment": s.comment,
            "ends_at": _ts(s.ends_at),
            "seconds_left": int(s.ends_at - at),
        }
        for s in list_silences(c.store, c.loaded.spec.project)
        if s.active(at)
    ]


@register("slos", "SLO error budgets")
def _slos(c: HandoffContext) -> list[dict[str, Any]]:
    from opsbook.errors import OpsbookError
    from opsbook.monitor.slo import slo_statuses

    if not (getattr(c.loaded.spec, "slos", None) or {}):
        return []
    try:
        statuses = slo_statuses(c.loaded, c.now, store=c.store)
    except OpsbookError as err:  # a source is unreachable: say so instead of failing the report
        return [{"slo": name, "error": str(err)} for name in c.loaded.spec.slos]
    return [
        {
            "slo": s.name,
            "objective": s.objective,
            "window": s.window,
            "events": s.total,
            "bad": s.bad,
            "budget_remaining": None if s.remaining is None else round(s.remaining, 4),
            "page_burn_rate": s.top_rate("page"),
        }
        for s in statuses
    ]


@register("waiting_runs", "Runs waiting for a human")
def _waiting(c: HandoffContext) -> list[dict[str, Any]]:
    with c.store.begin() as conn:
        rows = q.waiting_runs(conn, c.loaded.spec.project)
    return [
        {
            "run": r.id,
            "runbook": r.runbook,
            "environment": r.environment,
            "status": r.status,
            "step": r.step_id,
            "waiting_since": _ts(r.updated_at),
            "waiting_seconds": int(c.now.timestamp() - r.updated_at),
        }
        for r in rows
    ]


@register("schedules", "Scheduled runbooks due in the next 24 hours")
def _schedules(c: HandoffContext) -> list[dict[str, Any]]:
    horizon = c.now + dt.timedelta(hours=24)
    with c.store.begin() as conn:
        claims = q.last_claims(conn, c.loaded.spec.project)
    out = []
    for name, schedule in c.loaded.spec.schedules.items():
        upcoming = schedules.next_due(schedule, c.now)
        last = claims.get(name)
        row = {
            "schedule": name,
            "runbook": schedule.runbook,
            "environment": schedule.env,
            "next_due": isoformat(upcoming),
            "last_run": last.run_id if last else None,
            "last_outcome": last.outcome if last else None,
        }
        if upcoming <= horizon:
            out.append(row)
    return out


@register("flags", "Flags in the middle of a rollout")
def _flags(c: HandoffContext) -> list[dict[str, Any]]:
    from opsbook.flags.service import list_flags

    flags = getattr(c.loaded.spec, "flags", None) or {}
    if not flags:
        return []
    return [
        {
            "flag": view.key,
            "percent": view.state.percent,
            "updated_at": _ts(view.state.updated_at),
            "updated_by": view.state.updated_by,
            "reason": view.state.reason,
        }
        for view in list_flags(c.store, c.loaded.spec.project, flags)
        if view.state.enabled and 0 < view.state.percent < 100
    ]


def report(
    store: Store,
    loaded: LoadedSpec,
    *,
    now: dt.datetime,
    since: str | None,
    actor: str,
    record: bool,
) -> Report:
    """Build the report; with ``record`` remember it so the next one starts here."""
    project = loaded.spec.project
    if since is not None:
        start = parse_time(since, now=now, option="--since")
    else:
        with store.begin() as conn:
            last = q.last_handoff(conn, project)
        start = (
            dt.datetime.fromtimestamp(last.at, dt.UTC)
            if last is not None and last.at <= now.timestamp()
            else now - DEFAULT_SINCE
        )
    context = HandoffContext(store, loaded, start, now)
    result = Report(start, now, [(item, item.provider(context)) for item in ITEMS])
    if record:
        with store.begin() as conn:
            q.insert_handoff(
                conn,
                {
                    "project": project,
                    "at": now.timestamp(),
                    "since": start.timestamp(),
                    "operator": actor,
                    "report": result.to_json()["counts"],
                },
            )
            chain.append(
                conn,
                str(ScheduleEvent.HANDOFF),
                actor=actor,
                at=now.timestamp(),
                data={"since": start.timestamp(), "counts": result.to_json()["counts"]},
            )
    return result
