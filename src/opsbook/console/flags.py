"""Showing flags, one flag, a change and a flag's history."""

from __future__ import annotations

import json
from typing import Any

from rich.table import Table

from opsbook.console import out
from opsbook.console.audit import when
from opsbook.console.untrusted import escape
from opsbook.flags.service import Change, FlagView


def _state(facts: dict[str, Any]) -> str:
    if not facts.get("enabled"):
        return "off (killed)" if facts.get("percent") else "off"
    return f"on {facts.get('percent')}%"


def show_flags(views: list[FlagView]) -> None:
    if not views:
        out.print("no flags declared; add a flags: section to opsbook.yaml")
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("flag", "type", "state", "default", "changed", "by"):
        table.add_column(column, overflow="fold")
    for view in views:
        table.add_row(
            escape(view.key),
            view.flag.type or "",
            _state(view.state.facts()),
            escape(json.dumps(view.flag.default)),
            when(view.state.updated_at) if view.changed else "(opsbook.yaml)",
            escape(view.state.updated_by),
        )
    out.print(table)


def show_flag(view: FlagView) -> None:
    facts = view.state.facts()
    out.print(f"[bold]{escape(view.key)}[/bold] ({view.flag.type})")
    if view.flag.description:
        out.print(escape(view.flag.description))
    out.print(f"state      {_state(facts)}, bucketed by {escape(view.flag.stickiness)}")
    out.print(f"default    {escape(json.dumps(view.flag.default))}")
    for name, variant in view.flag.variants.items():
        value = escape(json.dumps(variant.value))
        out.print(f"variant    {escape(name)} = {value} ({variant.weight}/1000)")
    for rule in view.flag.rules:
        out.print(f"rule       {escape(rule.model_dump_json(by_alias=True, exclude_none=True))}")
    for target, served in view.state.overrides.items():
        out.print(f"override   {escape(target)} → {escape(json.dumps(served))}")
    if view.changed:
        reason = f": {view.state.reason}" if view.state.reason else ""
        by = escape(view.state.updated_by + reason)
        out.print(f"changed    {when(view.state.updated_at)} by {by}")
    else:
        out.print("changed    never (the state is opsbook.yaml's)")


def show_change(change: Change) -> None:
    out.print(
        f"{escape(change.key)}: {_state(change.before)} → {_state(change.after)}"
        f" (event {change.event_seq}, by {escape(change.actor)})"
    )


def show_history(changes: list[Change]) -> None:
    if not changes:
        out.print("no changes recorded; the flag has opsbook.yaml's state")
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("when", "by", "change", "reason", "run"):
        table.add_column(column, overflow="fold")
    for c in changes:
        where = f"{c.run_id} {c.step_id}" if c.run_id else ""
        table.add_row(
            when(c.at),
            escape(c.actor),
            f"{_state(c.before)} → {_state(c.after)}",
            escape(c.reason),
            escape(where),
        )
    out.print(table)
