"""Incident states, their allowed transitions, and the event types incidents write."""

from __future__ import annotations

from enum import StrEnum


class IncidentStatus(StrEnum):
    OPEN = "open"  # opened; nobody has acknowledged it yet, escalation runs
    ACKNOWLEDGED = "acknowledged"  # someone owns it; escalation stops
    MITIGATED = "mitigated"  # the impact is over; the cause may not be fixed yet
    RESOLVED = "resolved"  # closed; the alert group may open a new incident


TRANSITIONS: dict[IncidentStatus, frozenset[IncidentStatus]] = {
    IncidentStatus.OPEN: frozenset(
        {IncidentStatus.ACKNOWLEDGED, IncidentStatus.MITIGATED, IncidentStatus.RESOLVED}
    ),
    IncidentStatus.ACKNOWLEDGED: frozenset({IncidentStatus.MITIGATED, IncidentStatus.RESOLVED}),
    IncidentStatus.MITIGATED: frozenset({IncidentStatus.RESOLVED}),
    IncidentStatus.RESOLVED: frozenset(),
}
ACTIVE = (IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED, IncidentStatus.MITIGATED)


def sources(target: IncidentStatus) -> tuple[str, ...]:
    """The states an incident may move to ``target`` from."""
    return tuple(str(s) for s, allowed in TRANSITIONS.items() if target in allowed)


class IncidentEvent(StrEnum):
    OPENED = "incident_opened"
    DEDUPLICATED = "incident_alert_repeated"
    ACKNOWLEDGED = "incident_acknowledged"
    NOTED = "incident_noted"
    PAGED = "incident_paged"
    ESCALATED = "incident_escalated"
    SLA_BREACHED = "incident_sla_breached"
    MITIGATED = "incident_mitigated"
    RESOLVED = "incident_resolved"


class ScheduleEvent(StrEnum):
    STARTED = "schedule_started"
    HANDOFF = "handoff_recorded"
