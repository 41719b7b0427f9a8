"""What the commands, the steps and the OFREP routes do with flags: read, evaluate, change.

Every change (``set``, ``kill``, a runbook's ``flag`` step, a rollback restoring the state a run
found) goes through :func:`change_flag`: one transaction that writes the new state and appends a
``flag_changed`` event (operator, reason, before, after) to the hash chain. Evaluations read the
stored state each time, so a change is effective at the next evaluation.
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opsbook.errors import FlagNotFound, UsageError
from opsbook.flags.evaluate import Evaluation, evaluate
from opsbook.flags.models import Flag
from opsbook.flags.state import FlagState
from opsbook.store import Store
from opsbook.store import flags as q

MAX_REASON = 500


@dataclass(frozen=True)
class FlagView:
    """A declared flag and its current state."""

    key: str
    flag: Flag
    state: FlagState
    changed: bool
    """Whether the state was ever changed in the store (else it is opsbook.yaml's)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "type": self.flag.type,
            "description": self.flag.description,
            "default": self.flag.default,
            "variants": {k: v.model_dump() for k, v in self.flag.variants.items()},
            "stickiness": self.flag.stickiness,
            **self.state.facts(),
            "updated_at": self.state.updated_at,
            "updated_by": self.state.updated_by,
            "reason": self.state.reason,
        }


Change = q.ChangeRow
"""One recorded change of a flag."""


def declared(flags: Mapping[str, Flag], key: str) -> Flag:
    """The flag ``key`` of opsbook.yaml; FlagNotFound naming the close ones otherwise."""
    flag = flags.get(key)
    if flag is None:
        close = difflib.get_close_matches(key, list(flags), n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'?" if close else "declare it under flags: in opsbook.yaml"
        if not flags:
            hint = "opsbook.yaml declares no flags; add a flags: section"
        raise FlagNotFound(f"no flag {key[:100]!r}", hint=hint)
    return flag


def _state(flag: Flag, row: q.StateRow | None) -> FlagState:
    if row is None:
        return FlagState.initial(flag)
    return FlagState(
        row.enabled, row.percent, row.overrides, row.updated_at, row.updated_by, row.reason
    )


def list_flags(store: Store, project: str, flags: Mapping[str, Flag]) -> list[FlagView]:
    """Every declared flag with its state, in the order of opsbook.yaml."""
    with store.begin() as conn:
        rows = q.get_states(conn, project)
    return [FlagView(k, f, _state(f, rows.get(k)), k in rows) for k, f in flags.items()]


def show_flag(store: Store, project: str, flags: Mapping[str, Flag], key: str) -> FlagView:
    flag = declared(flags, key)
    with store.begin() as conn:
        row = q.get_state(conn, project, key)
    return FlagView(key, flag, _state(flag, row), row is not None)


def current_state(store: Store, project: str, flag: Flag, key: str) -> FlagState:
    """The flag's state now (one indexed read)."""
    with store.begin() as conn:
        return _state(flag, q.get_state(conn, project, key))


def evaluate_flag(
    store: Store, project: str, flags: Mapping[str, Flag], key: str, context: Mapping[str, Any]
) -> Evaluation:
    """Evaluate one flag against the state stored now (FlagNotFound, EvaluationError)."""
    flag = declared(flags, key)
    return evaluate(key, flag, current_state(store, project, flag, key), context)


def change_flag(
    store: Store,
    project: str,
    flags: Mapping[str, Flag],
    key: str,
    *,
    operator: str,
    reason: str = "",
    enabled: bool | None = None,
    percent: int | None = None,
    overrides: Mapping[str, Any] | None = None,
    restore: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    step_id: str | None = None,
    now: float | None = None,
) -> Change:
    """Change a flag's state and record who, why, before and after; returns the change.

    ``restore`` puts back a whole recorded state (a rollback); otherwise only the given parts
    change. The change is written even when nothing differs, so the record shows the attempt.
    """
    flag = declared(flags, key)
    if percent is not None and not 0 <= percent <= 100:
        raise UsageError(f"--percent {percent} is out of range", hint="give 0 to 100")
    if len(reason) > MAX_REASON:
        raise UsageError(f"the reason is {len(reason)} characters", hint=f"keep it to {MAX_REASON}")
    at = time.time() if now is None else now
    with store.begin() as conn:
        q.lock_for_change(conn)
        before = _state(flag, q.get_state(conn, project, key)).facts()
        if restore is not None:
            after = {
                "enabled": bool(restore["enabled"]),
                "percent": int(restore["percent"]),
                "overrides": dict(restore.get("overrides") or {}),
            }
        else:
            after = dict(before)
            if enabled is not None:
                after["enabled"] = enabled
            if percent is not None:
                after["percent"] = percent
            if overrides is not None:
                after["overrides"] = {**before["overrides"], **overrides}
        return q.write_change(
            conn,
            project,
            key,
            before=before,
            after=after,
            actor=operator,
            reason=reason,
            at=at,
            run_id=run_id,
            step_id=step_id,
        )


def history(
    store: Store, project: str, flags: Mapping[str, Flag], key: str, limit: int = 50
) -> list[Change]:
    """A flag's recorded changes, newest first (also for flags no longer declared)."""
    with store.begin() as conn:
        rows = q.get_changes(conn, project, key, limit)
    if not rows:
        declared(flags, key)
    return rows
