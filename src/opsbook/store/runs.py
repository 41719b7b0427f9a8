"""Queries of the run engine: runs, their steps, attempts, approvals, leases and the env lock.

Every write the executor makes while it holds a run goes through :func:`fence` first, in the
same transaction: ``UPDATE runs ... WHERE lease_owner = :me``. When another process has taken
the run over, the update matches no row and :class:`~opsbook.errors.LeaseLost` stops the writer
before it can record anything. On PostgreSQL the update also locks the run row until commit, so
a takeover waits for an in-flight checkpoint instead of racing it; SQLite serialises writers
with ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Connection, Row, and_, bindparam, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError

from opsbook.engine import states
from opsbook.engine.states import RunStatus, StepStatus
from opsbook.errors import (
    EnvironmentLocked,
    InvalidState,
    LeaseLost,
    RunNotFound,
    StateMoved,
    StepNotFound,
)
from opsbook.store import driver, schema
from opsbook.store.database import Store

R = schema.runs
S = schema.steps
A = schema.attempts
AP = schema.approvals

# The executor's per-step statements (fence, step and attempt rows) run through
# opsbook.store.driver: plain SQL on the driver's cursor, in the caller's transaction.
_FENCE = f"UPDATE {R.name} SET updated_at = :now WHERE id = :run AND lease_owner = :owner"
_SET_RUN = update(R).where(R.c.id == bindparam("b_run"))


def create_run(
    store: Store,
    run: dict[str, Any],
    step_ids: Sequence[str],
    *,
    event: tuple[str, dict[str, Any]],
    lease_ttl: float | None,
) -> None:
    """Insert a run (leased by ``run["lease_owner"]`` for ``lease_ttl`` seconds of the
    database's clock; None: unleased) and its pending steps; EnvironmentLocked when another run
    holds the env."""
    from opsbook.store import events

    try:
        with store.begin() as conn:
            if lease_ttl is not None:
                now = db_now(conn)
                run = {**run, "lease_expires_at": now + lease_ttl, "leased_at": now}
            conn.execute(insert(R).values(**run))
            if step_ids:
                conn.execute(
                    insert(S),
                    [
                        {
                            "run_id": run["id"],
                            "step_id": sid,
                            "status": StepStatus.PENDING,
                            "attempts": 0,
                        }
                        for sid in step_ids
                    ],
                )
            events.append(conn, event[0], run_id=run["id"], actor=run["operator"], data=event[1])
    except IntegrityError:
        with store.begin() as conn:
            holder = conn.execute(
                select(R).where(
                    and_(R.c.project == run["project"], R.c.lock_key == run["lock_key"])
                )
            ).first()
        if holder is None:  # the holder finished between our insert and this read
            raise EnvironmentLocked(
                f"environment '{run['environment']}' was locked by another run a moment ago",
                hint="run the command again",
            ) from None
        raise EnvironmentLocked(
            f"environment '{holder.environment}' is held by run {holder.id}"
            f" ({holder.runbook}, status {holder.status}) started by {holder.operator}"
            f" since {utc_text(holder.created_at)}",
            hint=f"wait for it to finish, or `opsbook resume {holder.id}` /"
            f" `opsbook abort {holder.id}` if it was interrupted",
        ) from None


def utc_text(ts: float | None) -> str:
    """``2026-11-22 03:01:39 UTC`` for a stored time (``an unknown time`` for none)."""
    import datetime as dt

    if ts is None:
        return "an unknown time"
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def get_run(conn: Connection, run_id: str) -> Row[Any]:
    """The run row; RunNotFound when there is none."""
    row = conn.execute(select(R).where(R.c.id == run_id)).first()
    if row is None:
        raise RunNotFound(f"no run '{run_id}'", hint="list runs with `opsbook runs`")
    return row


def get_steps(conn: Connection, run_id: str) -> dict[str, Row[Any]]:
    """The run's step rows by step id."""
    rows = conn.execute(select(S).where(S.c.run_id == run_id)).all()
    return {r.step_id: r for r in rows}


def get_step(conn: Connection, run_id: str, step_id: str) -> Row[Any]:
    row = conn.execute(select(S).where(and_(S.c.run_id == run_id, S.c.step_id == step_id))).first()
    if row is None:
        raise StepNotFound(f"run {run_id} has no step '{step_id}'", run=run_id)
    return row


def db_now(conn: Connection) -> float:
    """The database's clock, in UNIX seconds.

    Every lease is written and compared on this one clock, so processes on machines whose
    clocks disagree (sharing a PostgreSQL store) never see a live lease as expired.
    """
    if conn.dialect.name == "postgresql":
        sql = "SELECT extract(epoch from clock_timestamp())"
    else:
        sql = "SELECT (julianday('now') - 2440587.5) * 86400.0"
    return float(conn.execute(text(sql)).scalar_one())


def acquire_lease(
    conn: Connection,
    run_id: str,
    owner: str,
    ttl: float,
    statuses: Collection[RunStatus] = states.LEASABLE,
    *,
    take_from: str | None = None,
) -> bool:
    """Take the run if nobody holds a live lease on it (or its holder is ``take_from``, known to
    be gone); True when this owner now holds it. Times are the database's."""
    now = db_now(conn)
    free = [R.c.lease_owner.is_(None), R.c.lease_expires_at < now, R.c.lease_owner == owner]
    if take_from is not None:
        free.append(R.c.lease_owner == take_from)
    result = conn.execute(
        update(R)
        .where(and_(R.c.id == run_id, R.c.status.in_(sorted(statuses)), or_(*free)))
        .values(lease_owner=owner, lease_expires_at=now + ttl, leased_at=now, updated_at=now)
    )
    return result.rowcount == 1


def live_leases(conn: Connection) -> list[tuple[str, str]]:
    """(run id, holder) of runs an executor holds a lease on that has not expired."""
    now = db_now(conn)
    rows = conn.execute(
        select(R.c.id, R.c.lease_owner).where(
            and_(
                R.c.status.in_(sorted(states.LEASABLE)),
                R.c.lease_owner.is_not(None),
                R.c.lease_expires_at >= now,
            )
        )
    ).all()
    return [(row.id, row.lease_owner) for row in rows]


def renew_lease(conn: Connection, run_id: str, owner: str, ttl: float) -> str | None:
    """Extend the lease (database clock); the run's status, or None when the lease was lost."""
    result = conn.execute(
        update(R)
        .where(and_(R.c.id == run_id, R.c.lease_owner == owner))
        .values(lease_expires_at=db_now(conn) + ttl)
    )
    if result.rowcount != 1:
        return None
    status: str = conn.execute(select(R.c.status).where(R.c.id == run_id)).scalar_one()
    return status


def fence(conn: Connection, run_id: str, owner: str, now: float) -> None:
    """Assert, inside the caller's transaction, that ``owner`` still holds the run."""
    if driver.execute(conn, _FENCE, {"run": run_id, "owner": owner, "now": now}) != 1:
        raise LeaseLost(
            "another process took this run over; this one stops without writing", run=run_id
        )


def set_run(conn: Connection, run_id: str, **values: Any) -> None:
    """Write columns of the run other than its status (see :func:`transition`)."""
    _no_status(values)
    conn.execute(_SET_RUN, {"b_run": run_id, **values})


def transition(
    conn: Connection,
    run_id: str,
    *,
    from_: Collection[RunStatus],
    to: RunStatus,
    **values: Any,
) -> None:
    """Move the run from one of ``from_`` to ``to`` (and write ``values``) in one guarded
    ``UPDATE ... WHERE status IN (from_)``; StateMoved when the run is in another state by now.

    IllegalTransition (a programming error) when the table in :mod:`opsbook.engine.states`
    does not allow the move.
    """
    states.check_run(from_, to)
    result = conn.execute(
        update(R)
        .where(and_(R.c.id == run_id, R.c.status.in_(sorted(from_))))
        .values(status=to, **values)
    )
    if result.rowcount != 1:
        current = conn.execute(select(R.c.status).where(R.c.id == run_id)).scalar()
        if current is None:
            raise RunNotFound(f"no run '{run_id}'", hint="list runs with `opsbook runs`")
        raise StateMoved(
            f"is {current} now, not {' or '.join(sorted(from_))}: it cannot become {to}",
            current=current,
            run=run_id,
            hint=f"see `opsbook show {run_id}`",
        )


def set_step(conn: Connection, run_id: str, step_id: str, **values: Any) -> None:
    """Write columns of a step other than its status (see :func:`step_transition`)."""
    _no_status(values)
    sql = driver.update_sql(S, list(values), ("run_id", "step_id"))
    driver.execute(
        conn, sql, {**driver.encode(S, values), "w_run_id": run_id, "w_step_id": step_id}
    )


def step_transition(
    conn: Connection,
    run_id: str,
    step_id: str,
    *,
    from_: Collection[StepStatus],
    to: StepStatus,
    **values: Any,
) -> None:
    """Move a step from one of ``from_`` to ``to`` (and write ``values``), guarded like
    :func:`transition`; StateMoved when the step is in another state by now."""
    states.check_step(from_, to)
    expected = sorted(from_)
    columns = ["status", *values]
    key = ("step_transition", tuple(columns), len(expected))
    sql = _step_sql.get(key)
    if sql is None:
        sql = _step_sql[key] = driver.update_sql(S, columns, ("run_id", "step_id")) + (
            f" AND status IN ({', '.join(f':f{i}' for i in range(len(expected)))})"
        )
    params = {**driver.encode(S, {"status": str(to), **values}), "w_run_id": run_id}
    params.update({"w_step_id": step_id}, **{f"f{i}": str(f) for i, f in enumerate(expected)})
    if driver.execute(conn, sql, params) != 1:
        current = conn.execute(
            select(S.c.status).where(and_(S.c.run_id == run_id, S.c.step_id == step_id))
        ).scalar()
        if current is None:
            raise StepNotFound(f"run {run_id} has no step '{step_id}'", run=run_id)
        raise StateMoved(
            f"step {step_id} is {current} now, not {' or '.join(expected)}: it cannot become {to}",
            current=current,
            run=run_id,
            step=step_id,
        )


_step_sql: dict[tuple[Any, ...], str] = {}


def _no_status(values: dict[str, Any]) -> None:
    if "status" in values:  # a programming error: status writes name the state they leave
        raise ValueError("write a status with transition()/step_transition(), not set_*()")


def insert_attempt(conn: Connection, **values: Any) -> None:
    driver.execute(conn, driver.insert_sql(A, list(values)), driver.encode(A, values))


def finish_attempt(
    conn: Connection, run_id: str, step_id: str, phase: str, attempt: int, **values: Any
) -> None:
    sql = driver.update_sql(A, list(values), ("run_id", "step_id", "phase", "attempt"))
    where = {"w_run_id": run_id, "w_step_id": step_id, "w_phase": phase, "w_attempt": attempt}
    driver.execute(conn, sql, {**driver.encode(A, values), **where})


def next_attempt(conn: Connection, run_id: str, step_id: str, phase: str) -> int:
    """1 + the highest attempt number recorded for this step and phase."""
    from sqlalchemy import func

    top = conn.execute(
        select(func.max(A.c.attempt)).where(
            and_(A.c.run_id == run_id, A.c.step_id == step_id, A.c.phase == phase)
        )
    ).scalar()
    return int(top or 0) + 1


def get_approval(conn: Connection, run_id: str, step_id: str) -> Row[Any] | None:
    return conn.execute(
        select(AP).where(and_(AP.c.run_id == run_id, AP.c.step_id == step_id))
    ).first()


def insert_approval(conn: Connection, **values: Any) -> None:
    """Record a gate decision; InvalidState when the gate was already answered."""
    try:
        with conn.begin_nested():
            conn.execute(insert(AP).values(**values))
    except IntegrityError:
        raise InvalidState(
            f"gate {values['step_id']} was already answered",
            run=values["run_id"],
            hint=f"see `opsbook show {values['run_id']}`",
        ) from None


def claimable_runs(conn: Connection, now: float) -> list[str]:
    """Runs a worker may take: running (or aborting) with no live lease (database clock), or
    paused on a timer due at ``now``; oldest first."""
    expired = db_now(conn)
    timer_due = (
        select(S.c.run_id)
        .where(and_(S.c.run_id == R.c.id, S.c.status == StepStatus.WAITING, S.c.wake_at <= now))
        .exists()
    )
    rows = conn.execute(
        select(R.c.id)
        .where(
            or_(
                and_(
                    R.c.status.in_(sorted(states.LEASABLE)),
                    or_(R.c.lease_owner.is_(None), R.c.lease_expires_at < expired),
                ),
                and_(R.c.status == RunStatus.WAITING, timer_due),
            )
        )
        .order_by(R.c.created_at)
    ).scalars()
    return list(rows)


def step_attempts(conn: Connection, run_id: str) -> list[Row[Any]]:
    return list(conn.execute(select(A).where(A.c.run_id == run_id).order_by(A.c.id)).all())
