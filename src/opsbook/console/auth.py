"""Showing tokens and users."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict

from opsbook.auth import NewToken, TokenInfo, UserInfo
from opsbook.console import Table, err, escape, out, print_json


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def show_new_token(new: NewToken, json: bool) -> None:
    """The token on stdout (alone, so `$(opsbook token create ...)` captures it); the rest on
    stderr."""
    if json:
        print_json({**asdict(new.info), "token": new.token})
        return
    err.print(
        escape(f"token {new.info.name} ({new.info.id}) with role {new.info.role}; shown once:")
    )
    out.print(new.token, markup=False)


def show_tokens(tokens: list[TokenInfo], json: bool) -> None:
    if json:
        print_json([asdict(t) for t in tokens])
        return
    table = Table("NAME", "ID", "ROLE", "CREATED", "BY", "LAST USED", "REVOKED")
    for t in tokens:
        table.add_row(
            escape(t.name),
            t.id,
            t.role,
            _when(t.created_at),
            escape(t.created_by),
            _when(t.last_used_at),
            _when(t.revoked_at),
        )
    out.print(table)


def show_users(users: list[UserInfo], json: bool) -> None:
    if json:
        print_json([asdict(u) for u in users])
        return
    table = Table("NAME", "ROLE", "CREATED", "LOCKED UNTIL")
    for u in users:
        table.add_row(escape(u.name), u.role, _when(u.created_at), _when(u.locked_until))
    out.print(table)
