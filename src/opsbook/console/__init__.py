"""Everything opsbook shows a person. The only package that imports Rich.

Library code returns data; the CLI hands it to a function here. Output meant for machines
(``--json``) is written with :func:`print_json`, never through Rich, so it is never wrapped.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

# Piped output (CI logs, `| less`) gets a wide page instead of Rich's 80 columns, so tables of
# runs and releases stay one line per row; $COLUMNS still wins.
_PIPE_WIDTH = None if "COLUMNS" in os.environ else 160
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else _PIPE_WIDTH)
err = Console(
    stderr=True, highlight=False, soft_wrap=True, width=None if sys.stderr.isatty() else _PIPE_WIDTH
)

__all__ = ["Table", "err", "error", "escape", "info", "is_terminal", "out", "print_json", "warn"]


def is_terminal() -> bool:
    """Whether a person is watching (stdin and stdout are terminals)."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def error(message: str) -> None:
    """An error for a person: on stderr, prefixed, never with a traceback."""
    for line in message.splitlines() or [""]:
        err.print(f"[red]error:[/red] {escape(line)}" if not _located(line) else escape(line))


def _located(line: str) -> bool:
    head = line.split(" ", 1)[0]
    return head.endswith(":") and head.count(":") >= 2


def warn(message: str) -> None:
    err.print(f"[yellow]warning:[/yellow] {escape(message)}")


def info(message: str) -> None:
    out.print(escape(message))
