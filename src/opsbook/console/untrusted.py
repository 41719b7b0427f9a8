"""Text from others (a command's output, a title, a note), shown without letting it drive the
terminal.

A step's output (and the log ``opsbook show`` keeps of it) can hold escape sequences that move
the cursor over opsbook's own lines, set the window title or write the clipboard (OSC 52).
Escape sequences (CSI, OSC, two-byte ESC), C0 controls but tab, DEL and C1 controls are
dropped; :func:`colored` keeps the colors (SGR, ``ESC [ ... m``), which Rich then draws on a
terminal and leaves out elsewhere.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.text import Text

_CONTROLS = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_]?)"
    r"|[\x00-\x08\x0a-\x1f\x7f-\x9f]"
)
_SGR = re.compile(r"\x1b\[[0-9;:]*m")
# The same, but newlines and tabs stay: messages and notes may have several lines.
_CONTROLS_IN_TEXT = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_]?)"
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
)


def escape(text: str) -> str:
    """``text`` for Rich markup: its ``[`` escaped, and its escape sequences and control
    characters (but newline and tab) removed. Every value the console shows goes through it:
    an incident's title, a note, an alert's annotation are typed by someone else."""
    from rich.markup import escape as markup_escape

    return markup_escape(_CONTROLS_IN_TEXT.sub("", text))


def escape_plain(text: str) -> str:
    """``text`` for markup that :func:`plain` turns into plain text without loading Rich: its
    control characters removed, and every backslash and ``[`` escaped with a backslash."""
    return _CONTROLS_IN_TEXT.sub("", text).replace("\\", "\\\\").replace("[", "\\[")


_PLAIN = re.compile(r"\\([\\\[])|\[/?[a-z ]+\]")


def plain(markup: str) -> str:
    """Markup whose values went through :func:`escape_plain`, as plain text: the style tags
    dropped and the escapes undone, in one pass from the left."""
    return _PLAIN.sub(lambda m: m.group(1) or "", markup)


def printable(line: str) -> str:
    """One line with every escape sequence and control character (newlines too) removed."""
    return _CONTROLS.sub("", line)


def colored(text: str) -> Text:
    """Lines for Rich: their colors, and nothing else they could send to a terminal."""
    from rich.text import Text

    def keep_colors(match: re.Match[str]) -> str:
        return match.group() if _SGR.fullmatch(match.group()) else ""

    return Text("\n").join(
        Text.from_ansi(_CONTROLS.sub(keep_colors, line)) for line in text.split("\n")
    )
