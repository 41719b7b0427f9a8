"""Commands run without Typer when their command line is one of a few plain shapes.

Importing Typer (and click under it) costs about 40 ms, a tenth of what ``opsbook validate``
needs (see docs/performance.md). ``opsbook validate`` with nothing but ``-f/--file FILE`` and
``--json`` runs here, with the same messages and exit codes as the Typer command, which calls
the same :func:`validate`. Anything else (``--help``, an unknown option, an option twice) goes
to Typer, so help and usage errors read exactly as before.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

SPEC_FILE_ENV = "OPSBOOK_FILE"


def validate(file: Path | None, *, json: bool) -> None:
    """``opsbook validate``: SpecError (exit 2) with every problem, or a one-line summary."""
    from opsbook.console import print_json
    from opsbook.console.spec import show_valid
    from opsbook.errors import SpecError
    from opsbook.spec.loader import load_spec

    if json:
        try:
            loaded = load_spec(file)
        except SpecError as error:
            print_json({"valid": False, "problems": [vars(p) for p in error.problems]})
            raise
        print_json(
            {"valid": True, "file": loaded.display, "path": str(loaded.path), "problems": []}
        )
        return
    show_valid(load_spec(file))


def validate_args(args: list[str]) -> tuple[Path | None, bool] | None:
    """(file, json) of ``validate [-f FILE | --file FILE | --file=FILE] [--json]``; None for
    any other shape (Typer then parses it)."""
    if not args or args[0] != "validate":
        return None
    file: str | None = None
    json = False
    rest = iter(args[1:])
    for arg in rest:
        if arg == "--json" and not json:
            json = True
        elif arg in ("-f", "--file") and file is None:
            file = next(rest, "")
            if not file or file.startswith("-"):
                return None
        elif arg.startswith("--file=") and file is None and len(arg) > len("--file="):
            file = arg.removeprefix("--file=")
        else:
            return None
    file = file or os.environ.get(SPEC_FILE_ENV) or None  # click ignores an empty variable
    return (Path(file) if file else None), json


def run(args: list[str]) -> int | None:
    """The exit code of a command run here, or None when Typer must run it."""
    parsed = validate_args(args)
    if parsed is None:
        return None
    from opsbook import console
    from opsbook.errors import OpsbookError, SpecError

    try:
        validate(parsed[0], json=parsed[1])
    except SpecError as error:  # as cli.app._Group maps them
        from opsbook.console.spec import show_problems

        show_problems(error)
        return error.exit_code
    except OpsbookError as error:
        console.error(str(error))
        return error.exit_code
    sys.stdout.flush()
    return 0
