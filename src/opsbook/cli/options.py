"""Options shared by many commands, declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

SpecFile = Annotated[
    Path | None,
    typer.Option(
        "--file",
        "-f",
        help="opsbook.yaml to use (default: found in this directory or its parents).",
        envvar="OPSBOOK_FILE",
        show_default=False,
    ),
]
EnvName = Annotated[str, typer.Option("--env", "-e", help="Environment name from opsbook.yaml.")]
Params = Annotated[
    list[str] | None,
    typer.Option(
        "--param", "-p", help="Runbook parameter KEY=VALUE (repeatable).", show_default=False
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON document instead of text.")]
JsonLines = Annotated[
    bool,
    typer.Option(
        "--json", help="Print JSON lines instead of text: one object per event, as it happens."
    ),
]
StoreUrl = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Store URL (default: SQLite at .opsbook/state.db beside opsbook.yaml).",
        envvar="OPSBOOK_DATABASE_URL",
        show_default=False,
    ),
]
Now = Annotated[
    str | None,
    typer.Option(
        "--now",
        help="Evaluate as if it were this time: ISO 8601, 'now', '-2h', '@UNIX' or 'fri 17:00'.",
        show_default=False,
    ),
]
