"""A fenced shell block → commands grouped under their comments.

A command spans as many lines as the shell needs: trailing ``\\``, ``&&``, ``||`` or ``|``, an open
quote, a heredoc up to its terminator, ``for``/``while``/``if``/``case`` up to ``done``/``fi``/
``esac``, and open braces or parentheses. Comments name the commands that follow them; a blank
line or a new comment ends a group.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

_HEREDOC = re.compile(r"<<(-?)\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")
_OPENERS = {"for": "done", "while": "done", "until": "done", "if": "fi", "case": "esac"}
_CLOSERS = {"done", "fi", "esac"}
_TRAILING_JOIN = re.compile(r"(\\|&&|\|\||\|)\s*$")


@dataclass
class Command:
    line: int
    text: str


@dataclass
class Group:
    """Commands under one comment (or one run of lines between blank lines)."""

    line: int
    comments: list[str] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)

    @property
    def name(self) -> str | None:
        kept = [c for c in self.comments if not re.match(r"(example|e\.g\.)\b", c, re.I)]
        text = " ".join(kept or self.comments).strip()
        text = re.sub(r"^\d+[.)]\s*", "", text)
        return text or None


def _strip_comment(line: str) -> str:
    """The line without a trailing ``# comment`` (outside quotes), for structure checks only."""
    try:
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.commenters = "#"
        lexer.whitespace_split = True
        return " ".join(lexer)
    except ValueError:
        return line


def balanced(text: str) -> bool:
    """Whether text has no open quote (shlex raises on one)."""
    try:
        lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        list(lexer)
    except ValueError:
        return False
    return True


def _depth(words: list[str]) -> int:
    depth = 0
    for word in words:
        if word in _OPENERS:
            depth += 1
        elif word in _CLOSERS:
            depth -= 1
    return depth


def _words(text: str) -> list[str]:
    try:
        lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|(){}")
        lexer.whitespace_split = False
        lexer.commenters = "#"
        return list(lexer)
    except ValueError:
        return text.split()


def _complete(text: str) -> bool:
    """Whether the command text so far can end here."""
    last = text.rstrip().splitlines()[-1] if text.strip() else ""
    if _TRAILING_JOIN.search(_strip_comment(last) if "#" in last else last):
        return False
    if not balanced(text):
        return False
    words = _words(text)
    if _depth(words) > 0:
        return False
    braces = words.count("{") - words.count("}")
    parens = words.count("(") - words.count(")")
    return braces <= 0 and parens <= 0


def split(content: str, first_line: int, numbers: list[int] | None = None) -> list[Group]:
    """Group the lines of a shell block into named commands (lines are 1-based file lines;
    ``numbers`` gives each content line's own when lines were added or dropped)."""
    lines = content.splitlines()
    groups: list[Group] = []
    current: Group | None = None
    index = 0
    while index < len(lines):
        raw = lines[index]
        stripped = raw.strip()
        line = numbers[index] if numbers and index < len(numbers) else first_line + index
        if not stripped:
            current = None
            index += 1
            continue
        if stripped.startswith("#") and not stripped.startswith("#!"):
            if current is None or current.commands:
                current = Group(line)
                groups.append(current)
            current.comments.append(stripped.lstrip("#").strip())
            index += 1
            continue
        if current is None:
            current = Group(line)
            groups.append(current)
        text, index = _take_command(lines, index)
        current.commands.append(Command(line, text))
    return groups


def _take_command(lines: list[str], index: int) -> tuple[str, int]:
    """One whole command starting at lines[index]; returns its text and the next index."""
    taken = [lines[index]]
    outside = [lines[index]]  # the command without heredoc bodies, for the structure checks
    terminators = [m.group(3) for m in _HEREDOC.finditer(_strip_comment(taken[0]))]
    index += 1
    while index < len(lines):
        if terminators:
            taken.append(lines[index])
            if lines[index].strip() == terminators[0]:
                terminators.pop(0)
            index += 1
            continue
        if _complete("\n".join(outside)):
            break
        taken.append(lines[index])
        outside.append(lines[index])
        terminators += [m.group(3) for m in _HEREDOC.finditer(_strip_comment(lines[index]))]
        index += 1
    return "\n".join(taken).rstrip(), index
