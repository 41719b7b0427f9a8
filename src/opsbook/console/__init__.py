"""Everything opsbook shows a person. The only package that imports Rich.

Library code returns data; the CLI hands it to a function here. Output meant for machines
(``--json``) is written with :func:`print_json`, never through Rich, so it is never wrapped.
Rich loads only when something is shown to a terminal: :func:`info`, :func:`warn`,
:func:`error` and :func:`line` write plain text to a pipe or a file, and ``out``/``err`` (the
Rich consoles) are created on first use.
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any, TextIO

from opsbook.wording import counted

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from opsbook.console.untrusted import escape

    out: Console
    err: Console

__all__ = [
    "Table",
    "counted",
    "err",
    "error",
    "escape",
    "escape_text",
    "info",
    "is_terminal",
    "line",
    "out",
    "print_json",
    "print_json_line",
    "warn",
]


def _console(stderr: bool) -> Console:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # Piped output (CI logs, `| less`) gets a wide page instead of Rich's 80 columns, so tables
    # of runs and releases stay one line per row; $COLUMNS still wins.
    pipe_width = None if "COLUMNS" in os.environ else 160
    width = None if stream.isatty() else pipe_width
    return Console(stderr=stderr, highlight=False, soft_wrap=True, width=width)


def __getattr__(name: str) -> Any:
    if name in ("out", "err"):
        console = _console(stderr=name == "err")
        globals()[name] = console
        return console
    if name == "escape":
        from opsbook.console.untrusted import escape

        return escape
    if name == "Table":
        from rich.table import Table

        return Table
    raise AttributeError(name)


def is_terminal() -> bool:
    """Whether a person is watching (stdin and stdout are terminals)."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def print_json(value: Any) -> None:
    """One JSON document on stdout; times as ISO 8601 (see :mod:`opsbook.isotime`)."""
    from opsbook.isotime import with_iso_times

    text = json.dumps(with_iso_times(value), indent=2, default=str, ensure_ascii=False)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def print_json_line(value: Any) -> None:
    """One JSON object on one line (a stream of events); times as ISO 8601."""
    from opsbook.isotime import with_iso_times

    sys.stdout.write(json.dumps(with_iso_times(value), default=str, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def line(markup: str, plain: str, *, stderr: bool = False) -> None:
    """One line: ``markup`` (Rich markup, values escaped) on a terminal, ``plain`` elsewhere."""
    stream: TextIO = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        console: Console = __getattr__("err" if stderr else "out")
        console.print(markup)
    else:
        stream.write(plain + "\n")
        stream.flush()


def escape_text(text: str) -> str:
    """``text`` safe inside markup given to :func:`line` (Rich loads only for a terminal)."""
    if not (sys.stdout.isatty() or sys.stderr.isatty()):
        return text  # never used as markup then
    from opsbook.console.untrusted import escape

    return escape(text)


def error(message: str) -> None:
    """An error for a person: on stderr, prefixed, never with a traceback."""
    for text in message.splitlines() or [""]:
        if _located(text):
            line(escape_text(text), text, stderr=True)
        else:
            line(f"[red]error:[/red] {escape_text(text)}", f"error: {text}", stderr=True)


def _located(text: str) -> bool:
    head = text.split(" ", 1)[0]
    return head.endswith(":") and head.count(":") >= 2


def warn(message: str) -> None:
    line(f"[yellow]warning:[/yellow] {escape_text(message)}", f"warning: {message}", stderr=True)


def info(message: str) -> None:
    line(escape_text(message), message)
