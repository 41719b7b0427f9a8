"""``opsbook token create|list|revoke`` and ``opsbook user add|list|remove``."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from opsbook.cli.app import subgroup
from opsbook.cli.common import project_store
from opsbook.cli.options import Json, SpecFile, StoreUrl

token = subgroup("token", "API tokens for `opsbook serve`: shown once, stored hashed.")
user = subgroup("user", "Dashboard users of `opsbook serve` (name, role, password).")

RoleOpt = Annotated[
    str, typer.Option("--role", help="viewer, operator, approver or admin.", show_default=False)
]
Name = Annotated[str, typer.Option("--name", help="A name for the audit log.", show_default=False)]
PASSWORD_ENV = "OPSBOOK_PASSWORD"  # pragma: allowlist secret


def _me() -> str:
    from opsbook.engine.identity import operator

    return operator(Path.cwd())


@token.command("create")
def token_create(
    role: RoleOpt,
    name: Name,
    json: Json = False,
    file: SpecFile = None,
    store: StoreUrl = None,
) -> None:
    """Create an API token; it is printed once and only its hash is stored."""
    from opsbook.auth import create_token
    from opsbook.console.auth import show_new_token

    show_new_token(
        create_token(project_store(store, file), name=name, role=role, created_by=_me()), json
    )


@token.command("list")
def token_list(json: Json = False, file: SpecFile = None, store: StoreUrl = None) -> None:
    """List tokens (names, roles, last use; never the secrets)."""
    from opsbook.auth import list_tokens
    from opsbook.console.auth import show_tokens

    show_tokens(list_tokens(project_store(store, file)), json)


@token.command("revoke")
def token_revoke(
    key: Annotated[str, typer.Argument(metavar="NAME", help="The token's name or id.")],
    file: SpecFile = None,
    store: StoreUrl = None,
) -> None:
    """Revoke a token at once (every `serve` process refuses it from the next request)."""
    from opsbook.auth import revoke_token
    from opsbook.console import info

    revoked = revoke_token(project_store(store, file), key, by=_me())
    info(f"token {revoked.name} ({revoked.id}) revoked")


@user.command("add")
def user_add(
    name: Annotated[str, typer.Argument(metavar="NAME")],
    role: RoleOpt,
    file: SpecFile = None,
    store: StoreUrl = None,
) -> None:
    """Add a dashboard user; the password is read from $OPSBOOK_PASSWORD, else stdin/a prompt."""
    from opsbook.auth import add_user
    from opsbook.console import info

    password = os.environ.get(PASSWORD_ENV)
    if password is None:
        if sys.stdin.isatty():
            password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
        else:
            password = sys.stdin.readline().rstrip("\n")
    added = add_user(project_store(store, file), name=name, role=role, password=password, by=_me())
    info(f"user {added.name} added with role {added.role}")


@user.command("list")
def user_list(json: Json = False, file: SpecFile = None, store: StoreUrl = None) -> None:
    """List dashboard users and their roles."""
    from opsbook.auth import list_users
    from opsbook.console.auth import show_users

    show_users(list_users(project_store(store, file)), json)


@user.command("remove")
def user_remove(
    name: Annotated[str, typer.Argument(metavar="NAME")],
    file: SpecFile = None,
    store: StoreUrl = None,
) -> None:
    """Remove a dashboard user and end their sessions."""
    from opsbook.auth import remove_user
    from opsbook.console import info

    remove_user(project_store(store, file), name, by=_me())
    info(f"user {name} removed")
