"""Cross-references of the incident sections, each reported at its line with a fix."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from opsbook.errors import Problem
from opsbook.incidents.models import ONCALL_PREFIX

if TYPE_CHECKING:
    from opsbook.spec.loader import LoadedSpec, Loc
    from opsbook.spec.models import Spec


def _unknown(kind: str, name: str, known: Iterable[str], where: str) -> str:
    options = sorted(known)
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    if close:
        return f"unknown {kind} '{name}'; did you mean '{close[0]}'?"
    if options:
        return f"unknown {kind} '{name}'; known: {', '.join(options)}"
    return f"unknown {kind} '{name}'; declare it under {where}:"


def problems(loaded: LoadedSpec) -> list[Problem]:
    """Every broken reference between severities, calendars, on-call, contacts, escalation,
    schedules and runbooks."""
    doc = loaded.document

    def located(found: Iterator[tuple[Loc, str]]) -> list[Problem]:
        return [Problem(doc.file, doc.line(loc), _path(loc), message) for loc, message in found]

    spec = loaded.spec
    raw = doc.data.get("escalation") if isinstance(doc.data, dict) else None
    listed = {k for k, v in raw.items() if isinstance(v, list)} if isinstance(raw, dict) else set()
    return located(
        _chain(
            _severity_problems(spec),
            _oncall_problems(spec),
            _contact_problems(spec),
            _escalation_problems(spec, listed),
            _schedule_problems(spec),
        )
    )


def _chain(*parts: Iterator[tuple[Loc, str]]) -> Iterator[tuple[Loc, str]]:
    for part in parts:
        yield from part


def _path(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out


def people(spec: Spec) -> set[str]:
    """Everyone who can be paged: contacts and on-call members."""
    found = set(spec.contacts)
    for schedule in spec.oncall.values():
        found.update(schedule.members)
        found.update(o.member for o in schedule.overrides)
    return found


def _severity_problems(spec: Spec) -> Iterator[tuple[Loc, str]]:
    mapped: dict[str, str] = {}
    for name, severity in spec.severities.items():
        if severity.calendar and severity.calendar not in spec.calendars:
            yield (
                ("severities", name, "calendar"),
                _unknown("calendar", severity.calendar, spec.calendars, "calendars"),
            )
        if severity.escalation and severity.escalation not in spec.escalation:
            yield (
                ("severities", name, "escalation"),
                _unknown("escalation policy", severity.escalation, spec.escalation, "escalation"),
            )
        for index, alert in enumerate(severity.alerts):
            if alert in mapped:
                yield (
                    ("severities", name, "alerts", index),
                    f"alert severity '{alert}' already opens {mapped[alert]} incidents; "
                    "map it to one severity",
                )
            mapped.setdefault(alert, name)


def _oncall_problems(spec: Spec) -> Iterator[tuple[Loc, str]]:
    if not spec.contacts:
        return
    for name, schedule in spec.oncall.items():
        for index, member in enumerate(schedule.members):
            if member not in spec.contacts:
                yield (
                    ("oncall", name, "members", index),
                    _unknown("contact", member, spec.contacts, "contacts"),
                )
        for index, override in enumerate(schedule.overrides):
            if override.member not in spec.contacts:
                yield (
                    ("oncall", name, "overrides", index, "member"),
                    _unknown("contact", override.member, spec.contacts, "contacts"),
                )


def _receiver_names(spec: Spec) -> set[str] | None:
    """The ``notify`` receivers, when the spec declares any (the monitoring section)."""
    notify: Any = (spec.model_extra or {}).get("notify") or getattr(spec, "notify", None)
    receivers = getattr(notify, "receivers", None)
    if receivers is None and isinstance(notify, dict):
        receivers = notify.get("receivers")
    return set(receivers) if isinstance(receivers, dict) else None


def _contact_problems(spec: Spec) -> Iterator[tuple[Loc, str]]:
    known = _receiver_names(spec)
    if known is None:
        return
    for name, contact in spec.contacts.items():
        for index, receiver in enumerate(contact.receivers):
            if receiver not in known:
                yield (
                    ("contacts", name, "receivers", index),
                    _unknown("receiver", receiver, known, "notify.receivers"),
                )


def _escalation_problems(spec: Spec, listed: set[str]) -> Iterator[tuple[Loc, str]]:
    paged = people(spec)
    for name, policy in spec.escalation.items():
        if policy.calendar and policy.calendar not in spec.calendars:
            yield (
                ("escalation", name, "calendar"),
                _unknown("calendar", policy.calendar, spec.calendars, "calendars"),
            )
        for index, level in enumerate(policy.levels):
            # A policy may be written as a plain list of levels: its location has no 'levels'.
            loc: Loc = (
                ("escalation", name, index)
                if name in listed
                else ("escalation", name, "levels", index)
            )
            for target in level.notify:
                if target.startswith(ONCALL_PREFIX):
                    schedule = target.removeprefix(ONCALL_PREFIX)
                    if schedule not in spec.oncall:
                        yield (
                            (*loc, "notify"),
                            _unknown("on-call schedule", schedule, spec.oncall, "oncall"),
                        )
                elif target not in paged:
                    hint = _unknown("contact", target, paged, "contacts")
                    yield (*loc, "notify"), f"{hint} (or page oncall:SCHEDULE)"
            for severity in level.severities or []:
                if severity not in spec.severities:
                    yield (
                        (*loc, "severities"),
                        _unknown("severity", severity, spec.severities, "severities"),
                    )


def _schedule_problems(spec: Spec) -> Iterator[tuple[Loc, str]]:
    for name, schedule in spec.schedules.items():
        base: Loc = ("schedules", name)
        runbook = spec.runbooks.get(schedule.runbook)
        if runbook is None:
            yield (
                (*base, "runbook"),
                _unknown("runbook", schedule.runbook, spec.runbooks, "runbooks"),
            )
        if schedule.env not in spec.environments:
            yield (
                (*base, "env"),
                _unknown("environment", schedule.env, spec.environments, "environments"),
            )
        if runbook is None:
            continue
        for param in schedule.params:
            if param not in runbook.params:
                yield (
                    (*base, "params", param),
                    _unknown(
                        "parameter", param, runbook.params, f"runbooks.{schedule.runbook}.params"
                    ),
                )
        for param, declared in runbook.params.items():
            if declared.required and declared.default is None and param not in schedule.params:
                yield (
                    (*base, "params"),
                    f"runbook '{schedule.runbook}' needs parameter '{param}'; add it under params:",
                )
