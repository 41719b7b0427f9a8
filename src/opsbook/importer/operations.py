"""Operations data → ``x-operations``: alert rules, SLOs, severities, escalation, contacts,
dashboards, migration lists, incident procedures. Kept as structured data (each entry traced to
its line) until later issues give them a schema.
"""

from __future__ import annotations

import json
import re
from typing import Any

from opsbook.errors import SpecError
from opsbook.importer.draft import Draft
from opsbook.importer.markdown import Fence, Inline, Item, ListBlock, Paragraph, Table

_CATEGORIES = (
    (r"observab", "monitoring"),
    (r"alert", "alerts"),
    (r"\bslos?\b|\bsli\b|objective", "slos"),
    (r"severit|decision matrix", "severities"),
    (r"escalat", "escalation"),
    (r"contact|support path", "contacts"),
    (r"dashboard", "dashboards"),
    (r"incident", "incident_response"),
    (r"on-?call|handoff|responsib", "on_call"),
    (r"migration", "migrations"),
    (r"monitor|metric|observab|baseline|logging|\blogs?\b|telemetry", "monitoring"),
    (r"maintenance|regular tasks|daily|weekly", "maintenance"),
)
_MIGRATION = re.compile(r"^\d+[_-][\w.-]+\.sql$")
_ALERT_ITEM = re.compile(r"\balert (if|on|when)\b\s*(.+)", re.I)


def category(*titles: str) -> str:
    """The x-operations key for a section, from its heading (innermost first)."""
    for title in titles:
        for pattern, name in _CATEGORIES:
            if re.search(pattern, title, re.I):
                return name
    words = re.sub(r"[^a-z0-9]+", "_", (titles[0] if titles else "notes").lower()).strip("_")
    return re.sub(r"^[0-9_]+", "", words) or "notes"


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower().replace("`", "")).strip("_") or "value"


def table(block: Table, draft: Draft, where: str) -> None:
    """Each row as a mapping keyed by the column titles."""
    keys = [_key(h) for h in block.header]
    for row, line in zip(block.rows, block.row_lines, strict=True):
        entry = {
            key: cell.text.replace("`", "").replace("**", "")
            for key, cell in zip(keys, row, strict=False)
        }
        draft.operation(where, line, entry)


def is_migration_list(block: ListBlock) -> bool:
    hits = [i for i in block.items if any(_MIGRATION.match(c) for c in i.inline.codes)]
    return len(hits) >= 2 and len(hits) * 2 > len(block.items)


def migrations(block: ListBlock, draft: Draft) -> None:
    """A numbered migration list, in order, with any note beside a file."""
    for item in block.items:
        files = [c for c in item.inline.codes if _MIGRATION.match(c)]
        if not files:
            draft.skip(item.line, item.inline.text, "list item without a migration file")
            continue
        entry: dict[str, Any] = {"file": files[0]}
        note = re.sub(r"[*⚠️\s]+", " ", item.inline.prose).strip(" -–—:")
        if note:
            entry["note"] = note
        draft.operation("migrations", item.line, entry)


def _item_entry(item: Item) -> Any:
    text = item.inline.text.replace("`", "")
    children = [
        _item_entry(child)
        for block in item.children
        if isinstance(block, ListBlock)
        for child in block.items
    ]
    bold = item.inline.bold
    if bold:
        rest = text[len(bold) :].strip(" :–—-") if text.startswith(bold) else text
        entry: dict[str, Any] = {"title": bold.rstrip(":")}
        if rest:
            entry["text"] = rest
        if children:
            entry["items"] = children
        return entry
    if children:
        return {"text": text, "items": children}
    return text


def list_entries(block: ListBlock, draft: Draft, where: str) -> None:
    """A list in an operations section: each item (with its sub-items) as one entry.

    "Alert if p95 > 2s" items also become alert rules with their condition.
    """
    for number, item in enumerate(block.items, start=1):
        entry = _item_entry(item)
        if where == "escalation" and block.ordered and isinstance(entry, dict):
            entry = {"level": number, "who": entry.get("title"), "when": entry.get("text", "")}
        draft.operation(where, item.line, entry)
        _alert_items(item, draft)


def _alert_items(item: Item, draft: Draft) -> None:
    for block in item.children:
        if isinstance(block, ListBlock):
            for child in block.items:
                match = _ALERT_ITEM.search(child.inline.text.replace("`", ""))
                if match:
                    rule = {
                        "name": (item.inline.bold or item.inline.text).replace("`", ""),
                        "condition": match.group(2).strip().rstrip("."),
                    }
                    draft.operation("alerts", child.line, rule)


def severity(paragraph: Paragraph, following: ListBlock | None, draft: Draft) -> bool:
    """ "**P0 — Critical (Site Down)**" + its bullet list → one severity level; False if not one."""
    match = re.match(r"^(P\d|SEV\s?\d|S\d)\s*[—–-]\s*(.+)$", paragraph.inline.bold or "")
    if not match or paragraph.inline.bold != paragraph.inline.text:
        return False
    entry: dict[str, Any] = {"level": match.group(1), "name": match.group(2)}
    for item in following.items if following else []:
        bold = item.inline.bold
        text = item.inline.text.replace("`", "")
        if bold and text.startswith(bold):
            entry[_key(bold)] = text[len(bold) :].strip(" :")
        else:
            entry.setdefault("description", text)
    draft.operation("severities", paragraph.line, entry)
    return True


def data_fence(fence: Fence, draft: Draft, where: str, file: str, *, keep: bool = True) -> Any:
    """A YAML or JSON block: alert rules go to alerts, anything else under its section
    (unless ``keep`` is False: the caller used the data, e.g. as a check's expected body)."""
    from opsbook.spec.loader import parse_yaml  # YAML is read in spec/ only

    try:
        if fence.info == "json":
            data: Any = json.loads(fence.content)
        else:
            data = _plain(parse_yaml(fence.content, file).data)
    except (SpecError, ValueError) as err:
        draft.skip(fence.line, fence.content.splitlines()[0] if fence.content else "", str(err))
        return None
    if isinstance(data, dict) and isinstance(data.get("alerts"), list):
        for offset, rule in enumerate(data["alerts"]):
            draft.operation("alerts", fence.first_line + _rule_line(fence.content, offset), rule)
        rest = {k: v for k, v in data.items() if k != "alerts"}
        if rest:
            draft.operation(where, fence.first_line, rest)
        return data
    if data is not None and keep:
        draft.operation(where, fence.first_line, data)
    return data


def _rule_line(content: str, index: int) -> int:
    starts = [n for n, line in enumerate(content.splitlines()) if re.match(r"^\s*-\s", line)]
    return starts[index] if index < len(starts) else 0


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if node is None or isinstance(node, bool | int | float | str):
        return node
    return str(node)


def inline_text(inline: Inline) -> str:
    return inline.text.replace("`", "")
