"""x-operations severities, response times, escalation paths and contacts → the ``severities``,
``escalation``, ``contacts`` (and, for ``next-business-day``, ``calendars``) sections.

The x-operations entries stay as they are (nothing in a runbook is dropped); what they say
about answering incidents also becomes something opsbook runs. Each item says where it came
from; what the runbook does not say (a time zone, how long a level waits) is marked for review.

    Seed 004: **P1 — High** / Response: Within 1 hour      → severities.P1: {respond: 1h}
    Seed 003: Critical: 15 minutes (on-call section)       → severities.critical: {respond: 15m}
    Seed 003: 2. **Tech lead** (if not resolved in 1 hour) → escalation.default, level 1 waits 1h
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from opsbook.importer.draft import Draft

CALENDAR = "business-hours"
ASSUMED_WAIT = "1h"
_UNITS = {"min": "m", "minute": "m", "minutes": "m", "hour": "h", "hours": "h", "h": "h", "m": "m"}
_DURATION = re.compile(r"(\d+)\s*(minutes?|min|hours?|h|m)\b", re.I)
_RESPONSE_ITEM = re.compile(r"^\s*([A-Za-z][\w -]*?)\s*:\s*(.+)$")
_SEVERITY_NAME = re.compile(r"^(P\d|SEV\s?\d|S\d|critical|high|medium|low)$", re.I)


def _duration(text: str) -> str | None:
    """``Within 1 hour`` → ``1h``; ``Immediate (within 15 min)`` → ``15m``; next business day."""
    if re.search(r"next business day", text, re.I):
        return "next-business-day"
    match = _DURATION.search(text)
    if not match:
        return None
    return f"{match.group(1)}{_UNITS[match.group(2).lower()]}"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _origin(draft: Draft, line: int) -> str:
    return f"from {draft.file}:{line}"


def _entries(draft: Draft, category: str) -> list[tuple[int, Any]]:
    return list(draft.operations.get(category, []))


def _response_items(draft: Draft) -> Iterator[tuple[int, str, str]]:
    """``Critical: 15 minutes`` items anywhere in the on-call or incident sections."""

    def walk(line: int, value: Any) -> Iterator[tuple[int, str, str]]:
        if isinstance(value, str):
            match = _RESPONSE_ITEM.match(value)
            if match and _SEVERITY_NAME.match(match.group(1).strip()):
                yield line, match.group(1).strip(), match.group(2)
        elif isinstance(value, dict):
            for item in value.values():
                yield from walk(line, item)
        elif isinstance(value, list):
            for item in value:
                yield from walk(line, item)

    for category in ("on_call", "incident_response", "severities"):
        for line, entry in _entries(draft, category):
            yield from walk(line, entry)


def severities(draft: Draft) -> CommentedMap:
    """One severity per level the runbook names with a response time."""
    out = CommentedMap()
    for line, entry in _entries(draft, "severities"):
        if not isinstance(entry, dict):
            continue
        name = entry.get("level") or entry.get("severity")
        response = entry.get("response") or entry.get("response_time") or ""
        if not isinstance(name, str) or not _SEVERITY_NAME.match(name.strip()):
            continue
        key = name.strip() if name.strip().upper().startswith(("P", "S")) else _slug(name)
        item = CommentedMap()
        respond = _duration(str(response)) if response else None
        if respond:
            item["respond"] = respond
        words = [entry.get("name"), entry.get("description") or entry.get("symptoms")]
        description = ": ".join(str(w) for w in words if w)
        if description:
            item["description"] = description
        out[key] = item
        out.yaml_add_eol_comment(_origin(draft, line), key)
    for line, name, text in _response_items(draft):
        key = name if name.upper().startswith(("P", "S")) else _slug(name)
        respond = _duration(text)
        if respond and key in out and "respond" not in out[key]:
            out[key].insert(0, "respond", respond)
            out[key].yaml_add_eol_comment(_origin(draft, line), "respond")
    for key in list(out):
        if "respond" not in out[key]:
            del out[key]  # a level without a response time stays in x-operations only
        elif out[key]["respond"] == "next-business-day":
            out[key].insert(1, "calendar", CALENDAR)
    return out


def _contact_key(who: str, known: list[str]) -> str:
    """``Engineering manager`` matches a contact ``eng-manager`` (each word a prefix)."""
    slug = _slug(who)
    for key in known:
        mine, theirs = slug.split("-"), key.split("-")
        if len(mine) == len(theirs) and all(
            a.startswith(b) or b.startswith(a) for a, b in zip(mine, theirs, strict=True)
        ):
            return key
    return slug


def _contact_details(draft: Draft) -> dict[str, tuple[int, dict[str, str]]]:
    """``tech_lead: lead@example.com`` style contacts: key → (line, {email|phone: value})."""
    found: dict[str, tuple[int, dict[str, str]]] = {}

    def walk(line: int, value: Any) -> None:
        if not isinstance(value, dict):
            return
        for key, item in value.items():
            if isinstance(item, str):
                kind = (
                    "email" if "@" in item else "phone" if re.search(r"\+?[\dX]{3}", item) else None
                )
                if kind:
                    found.setdefault(_slug(str(key)), (line, {}))[1][kind] = item
            else:
                walk(line, item)

    for line, entry in _entries(draft, "contacts"):
        walk(line, entry)
    return found


def escalation(draft: Draft) -> tuple[CommentedMap, CommentedMap]:
    """The numbered escalation list → a ``default`` policy and a contact per person."""
    policy = CommentedSeq()
    contacts = CommentedMap()
    levels = [
        (line, entry)
        for line, entry in _entries(draft, "escalation")
        if isinstance(entry, dict) and entry.get("who")
    ]
    details = _contact_details(draft)
    for index, (line, entry) in enumerate(levels):
        key = _contact_key(str(entry["who"]), list(details))
        contact = CommentedMap(name=str(entry["who"]))
        for field, value in (details.get(key) or (0, {}))[1].items():
            contact[field] = value
        if key not in contacts:
            contacts[key] = contact
            contacts.yaml_add_eol_comment(_origin(draft, line), key)
        level = CommentedMap(notify=key)
        if index + 1 < len(levels):
            wait = _duration(str(levels[index + 1][1].get("when") or ""))
            level["ack_within"] = wait or ASSUMED_WAIT
            if wait is None:
                level.yaml_add_eol_comment(
                    "assumed: the runbook gives no time; review", "ack_within"
                )
            else:
                level.yaml_add_eol_comment(_origin(draft, levels[index + 1][0]), "ack_within")
        else:
            level.yaml_add_eol_comment(_origin(draft, line), "notify")
        policy.append(level)
    out = CommentedMap()
    if policy:
        out["default"] = policy
    return out, contacts


def sections(draft: Draft) -> CommentedMap:
    """The incident sections the draft's x-operations support, ready to add to the document."""
    out = CommentedMap()
    found = severities(draft)
    if any(item.get("calendar") == CALENDAR for item in found.values()):
        calendar = CommentedMap(timezone="UTC", hours="09:00-17:00")
        calendar.yaml_add_eol_comment("the runbook names no time zone: set yours", "timezone")
        out["calendars"] = CommentedMap({CALENDAR: calendar})
    policy, contacts = escalation(draft)
    if found:
        out["severities"] = found
    if contacts:
        out["contacts"] = contacts
    if policy:
        out["escalation"] = policy
    return out
