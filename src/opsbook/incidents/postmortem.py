"""The postmortem draft: ``docs/incidents/YYYY-MM-DD-slug.md`` written from the timeline for the
team to finish. A file the team has edited is never overwritten: the draft carries a hash of
what opsbook wrote, and a file whose text no longer matches it is left alone."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from opsbook.errors import UsageError
from opsbook.incidents.service import Incident
from opsbook.incidents.timeline import Entry
from opsbook.spec.durations import format_duration
from opsbook.spec.models import Spec

FOLDER = Path("docs") / "incidents"
_MARK = re.compile(r"^<!-- opsbook postmortem draft sha256:([0-9a-f]{64}) -->\n", re.M)


@dataclass(frozen=True)
class Written:
    path: Path
    created: bool  # False: an unedited draft was brought up to date


def slug(title: str) -> str:
    words = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return words[:60].rstrip("-") or "incident"


def path_for(root: Path, incident: Incident, spec: Spec) -> Path:
    day = incident.opened_at.astimezone(_zone(spec)).date().isoformat()
    return root / FOLDER / f"{day}-{slug(incident.title)}.md"


def _zone(spec: Spec) -> dt.tzinfo:
    from zoneinfo import ZoneInfo

    for calendar in spec.calendars.values():
        return ZoneInfo(calendar.timezone)
    return dt.UTC


def _when(moment: dt.datetime | None, spec: Spec) -> str:
    if moment is None:
        return "—"
    return moment.astimezone(_zone(spec)).strftime("%Y-%m-%d %H:%M %Z")


def _after(start: dt.datetime, end: dt.datetime | None) -> str:
    return "—" if end is None else format_duration((end - start).total_seconds())


def render(spec: Spec, incident: Incident, entries: list[Entry]) -> str:
    """The Markdown draft (without its hash line)."""
    changes = [e for e in entries if e.change]
    own = [e for e in entries if not e.change]
    due = incident.due_at
    met = (
        "—"
        if due is None
        else ("met" if incident.acked_at is not None and incident.acked_at <= due else "missed")
    )
    severity = spec.severities.get(incident.severity)
    lines = [
        f"# {incident.ref}: {incident.title}",
        "",
        f"- Severity: {incident.severity}"
        + (f" ({severity.description})" if severity and severity.description else ""),
        f"- Status: {incident.status}",
        f"- Opened: {_when(incident.opened_at, spec)} by {incident.opened_by}"
        f" ({'from an alert' if incident.source == 'alert' else 'by hand'})",
        f"- Resolved: {_when(incident.resolved_at, spec)}",
        "",
        "## Summary",
        "",
        "_What happened, in two or three sentences._",
        "",
        "## Impact",
        "",
        f"- Duration: {_after(incident.opened_at, incident.resolved_at or incident.mitigated_at)}"
        " from opening to " + ("resolution" if incident.resolved_at else "mitigation"),
        "- SLO budget spent: _error budget the incident used, per SLO_",
        "- Users affected: _who, how many_",
        "",
        "## Detection",
        "",
        (
            f"Opened from the alert `{incident.group_key}`."
            if incident.source == "alert"
            else f"Opened by hand by {incident.opened_by}."
        ),
        "",
        "## Response",
        "",
        "| clock | due | actual | |",
        "| --- | --- | --- | --- |",
        f"| acknowledged | {_when(due, spec)} | {_when(incident.acked_at, spec)}"
        f" ({_after(incident.opened_at, incident.acked_at)}) | {met} |",
        f"| mitigated | | {_when(incident.mitigated_at, spec)}"
        f" ({_after(incident.opened_at, incident.mitigated_at)}) | |",
        f"| resolved | | {_when(incident.resolved_at, spec)}"
        f" ({_after(incident.opened_at, incident.resolved_at)}) | |",
        "",
        "## Mitigation",
        "",
        (
            f"Runbook run `{incident.mitigation_run}`."
            if incident.mitigation_run
            else "_What stopped the impact._"
        ),
        "",
        "## Contributing changes",
        "",
        "Everything opsbook changed in the two hours before the incident opened:",
        "",
    ]
    lines += [f"- {_when(e.at, spec)} {e.kind}: {e.text}" for e in changes] or ["- none recorded"]
    lines += ["", "## Timeline", ""]
    lines += [f"- {_when(e.at, spec)} {e.text}" for e in own]
    lines += [
        "",
        "## Follow-ups",
        "",
        "- [ ] Root cause written down",
        "- [ ] Alert or check that would have caught it earlier",
        "- [ ] Runbook updated",
        "",
    ]
    return "\n".join(lines)


def write(root: Path, spec: Spec, incident: Incident, entries: list[Entry]) -> Written:
    """Write the draft; an unedited draft is refreshed, an edited one is refused."""
    path = path_for(root, incident, spec)
    body = render(spec, incident, entries)
    digest = hashlib.sha256(body.encode()).hexdigest()
    created = not path.exists()
    if not created:
        current = path.read_text(encoding="utf-8", errors="replace")
        mark = _MARK.match(current)
        rest = current[mark.end() :] if mark else None
        if (
            mark is None
            or rest is None
            or hashlib.sha256(rest.encode()).hexdigest() != mark.group(1)
        ):
            raise UsageError(
                f"{path} was edited since opsbook wrote it; not overwritten",
                hint="finish it by hand, or move it away to get a new draft",
            )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f"<!-- opsbook postmortem draft sha256:{digest} -->\n{body}", encoding="utf-8"
        )
    except OSError as err:
        raise UsageError(f"{path}: cannot write: {err.strerror}") from None
    return Written(path, created)
