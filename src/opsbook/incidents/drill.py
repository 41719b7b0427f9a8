"""A drill: the escalation plan of an incident opened at a given time, paging no one."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from opsbook.errors import UsageError
from opsbook.incidents import clocks, escalation
from opsbook.spec.models import Spec


@dataclass(frozen=True)
class Drill:
    severity: str
    opened_at: dt.datetime
    due_at: dt.datetime
    policy: str | None
    levels: list[escalation.LevelStart]


def drill(spec: Spec, severity: str, opened_at: dt.datetime) -> Drill:
    """Who would be paged when, at each level, if nobody acknowledged."""
    sev = spec.severities.get(severity)
    if sev is None:
        known = ", ".join(spec.severities) or "none declared; add severities: to opsbook.yaml"
        raise UsageError(f"unknown severity '{severity}'", hint=f"known: {known}")
    found = escalation.policy_for(spec, severity)
    return Drill(
        severity,
        opened_at,
        clocks.response_due(spec, sev, opened_at),
        found[0] if found else None,
        escalation.plan(spec, severity, opened_at),
    )
