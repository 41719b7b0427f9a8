"""Cron schedules of runbooks (croniter): which run is due at ``now``, and starting it once.

A schedule's fire time is claimed with a unique key (project, schedule, due time) before the run
starts, so two watchers sharing a PostgreSQL store run it exactly once. A watcher that was down
for longer than :data:`GRACE` does not run what it missed: the handoff report shows it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from opsbook.errors import OpsbookError
from opsbook.incidents.models import Schedule
from opsbook.incidents.states import ScheduleEvent
from opsbook.spec.loader import LoadedSpec
from opsbook.store import Store
from opsbook.store import events as chain
from opsbook.store import incidents as q

GRACE = dt.timedelta(hours=1)
"""How late a due run may still start (a watcher restarted after a short outage)."""


def last_due(schedule: Schedule, now: dt.datetime) -> dt.datetime:
    """The latest fire time at or before ``now`` (aware, UTC)."""
    from croniter import croniter

    whole = now.replace(microsecond=0)  # +1s finds a fire time at exactly now, never after it
    local = whole.astimezone(ZoneInfo(schedule.timezone)) + dt.timedelta(seconds=1)
    previous = croniter(schedule.cron, local).get_prev(dt.datetime)
    return previous.astimezone(dt.UTC)


def next_due(schedule: Schedule, now: dt.datetime) -> dt.datetime:
    """The first fire time after ``now`` (aware, UTC)."""
    from croniter import croniter

    local = now.astimezone(ZoneInfo(schedule.timezone))
    return croniter(schedule.cron, local).get_next(dt.datetime).astimezone(dt.UTC)


@dataclass(frozen=True)
class Started:
    """A scheduled run this process started."""

    schedule: str
    due_at: dt.datetime
    run_id: str | None
    outcome: str


def run_due(store: Store, loaded: LoadedSpec, now: dt.datetime, owner: str) -> list[Started]:
    """Start every schedule whose latest fire time is due, unclaimed and within the grace."""
    spec = loaded.spec
    started: list[Started] = []
    for name, schedule in spec.schedules.items():
        due = last_due(schedule, now)
        if now - due > GRACE:
            continue
        with store.begin() as conn:
            won = q.claim_schedule(
                conn,
                {
                    "project": spec.project,
                    "schedule": name,
                    "due_at": due.timestamp(),
                    "claimed_at": now.timestamp(),
                    "owner": owner,
                },
            )
            if won:
                chain.append(
                    conn,
                    str(ScheduleEvent.STARTED),
                    actor=owner,
                    at=now.timestamp(),
                    data={
                        "schedule": name,
                        "runbook": schedule.runbook,
                        "environment": schedule.env,
                        "due_at": due.timestamp(),
                    },
                )
        if won:
            started.append(_start(store, loaded, name, schedule, due))
    return started


def _start(
    store: Store, loaded: LoadedSpec, name: str, schedule: Schedule, due: dt.datetime
) -> Started:
    from opsbook.engine.lifecycle import start_run
    from opsbook.plan import make_plan

    try:
        plan = make_plan(loaded, schedule.runbook, schedule.env, schedule.params)
        outcome = start_run(store, plan)
        run_id, status = outcome.run_id, str(outcome.status)
    except OpsbookError as err:  # the environment is locked, a param is bad: say so, go on
        run_id, status = None, f"error: {err}"
    with store.begin() as conn:
        q.set_claim(
            conn, loaded.spec.project, name, due.timestamp(), run_id=run_id, outcome=status[:30]
        )
    return Started(name, due, run_id, status)
