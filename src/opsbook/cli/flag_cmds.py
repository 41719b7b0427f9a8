"""``opsbook flag list|show|set|kill|history`` and ``opsbook flags serve``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from opsbook.cli.app import subgroup
from opsbook.cli.options import Json, SpecFile, StoreUrl

if TYPE_CHECKING:
    from opsbook.spec.loader import LoadedSpec
    from opsbook.store import Store

flag = subgroup(
    "flag",
    "Feature flags of opsbook.yaml: their state, changes (each recorded with who and why) and "
    "the kill switch.",
)

Key = Annotated[str, typer.Argument(help="The flag's key under flags: in opsbook.yaml.")]
Reason = Annotated[
    str, typer.Option("--reason", "-m", help="Why; recorded with the change.", show_default=False)
]


def _open(file: SpecFile, store: StoreUrl) -> tuple[LoadedSpec, Store]:
    from opsbook.cli.common import project_store
    from opsbook.spec.loader import load_spec

    loaded = load_spec(file)
    return loaded, project_store(store, root=loaded.root)


def _change(key: str, json: bool, file: SpecFile, store: StoreUrl, **what: Any) -> None:
    """Change a flag as the operator of this shell (one library call) and show the change."""
    from opsbook.console import print_json
    from opsbook.console.flags import show_change
    from opsbook.engine.identity import operator
    from opsbook.flags.service import change_flag

    loaded, st = _open(file, store)
    spec = loaded.spec
    change = change_flag(st, spec.project, spec.flags, key, operator=operator(loaded.root), **what)
    if json:
        print_json(change.to_json())
    else:
        show_change(change)


@flag.command("list")
def list_(json: Json = False, file: SpecFile = None, store: StoreUrl = None) -> None:
    """Every flag of opsbook.yaml with its state: on/off, percentage, last change."""
    from opsbook.console import print_json
    from opsbook.console.flags import show_flags
    from opsbook.flags.service import list_flags

    loaded, st = _open(file, store)
    views = list_flags(st, loaded.spec.project, loaded.spec.flags)
    if json:
        print_json([v.to_json() for v in views])
    else:
        show_flags(views)


@flag.command("show")
def show(key: Key, json: Json = False, file: SpecFile = None, store: StoreUrl = None) -> None:
    """One flag: its definition and its state."""
    from opsbook.console import print_json
    from opsbook.console.flags import show_flag
    from opsbook.flags.service import show_flag as read

    loaded, st = _open(file, store)
    view = read(st, loaded.spec.project, loaded.spec.flags, key)
    if json:
        print_json(view.to_json())
    else:
        show_flag(view)


@flag.command("set")
def set_(
    key: Key,
    on: Annotated[
        bool | None, typer.Option("--on/--off", help="Turn the flag on or off.", show_default=False)
    ] = None,
    percent: Annotated[
        int | None,
        typer.Option("--percent", help="Share of users it is on for (0-100).", show_default=False),
    ] = None,
    reason: Reason = "",
    json: Json = False,
    file: SpecFile = None,
    store: StoreUrl = None,
) -> None:
    """Change a flag: --on/--off and/or --percent N; recorded in the audit trail."""
    from opsbook.errors import UsageError

    if on is None and percent is None:
        raise UsageError("nothing to change", hint="give --on, --off or --percent N")
    _change(key, json, file, store, reason=reason, enabled=on, percent=percent)


@flag.command("kill")
def kill(
    key: Key, reason: Reason = "", json: Json = False, file: SpecFile = None, store: StoreUrl = None
) -> None:
    """The kill switch: turn a flag off for everyone from the next evaluation; recorded."""
    _change(key, json, file, store, reason=reason or "kill switch", enabled=False)


@flag.command("history")
def history(
    key: Key,
    limit: Annotated[int, typer.Option("--limit", "-n", help="At most this many changes.")] = 50,
    json: Json = False,
    file: SpecFile = None,
    store: StoreUrl = None,
) -> None:
    """A flag's changes, newest first: when, who, from what to what, why, which run."""
    from opsbook.console import print_json
    from opsbook.console.flags import show_history
    from opsbook.flags.service import history as read

    loaded, st = _open(file, store)
    changes = read(st, loaded.spec.project, loaded.spec.flags, key, limit)
    if json:
        print_json([c.to_json() for c in changes])
    else:
        show_history(changes)


flags_group = subgroup("flags", "Serve the feature flags to applications (OFREP).")


@flags_group.command("serve")
def serve(
    port: Annotated[int, typer.Option("--port", help="TCP port on 127.0.0.1.")] = 8016,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (keep 127.0.0.1 behind a proxy).")
    ] = "127.0.0.1",
    workers: Annotated[
        int, typer.Option("--workers", help="Server processes sharing the port (1 to 32).")
    ] = 1,
    file: SpecFile = None,
    store: StoreUrl = None,
) -> None:
    """Serve the flags of opsbook.yaml over OFREP (POST /ofrep/v1/evaluate/flags[/KEY]) to any
    OpenFeature SDK; clients send a token from `opsbook token create`."""
    from opsbook.errors import UsageError
    from opsbook.web.ofrep import serve as run

    if not 0 < port < 65536:
        raise UsageError(f"--port {port} is not a TCP port", hint="give 1 to 65535")
    if not 1 <= workers <= 32:
        raise UsageError(f"--workers {workers} is out of range", hint="give 1 to 32")
    loaded, st = _open(file, store)
    run(st, loaded, host, port, workers=workers, store_url=store)
