"""Values never become shell syntax: each ``${{ }}`` of a command reaches it through the env.

``bind`` reads a ``run:`` or ``rollback:`` command as ``sh`` reads it, works out the quoting
context of each ``${{ }}`` (unquoted, double-quoted, single-quoted, inside ``$( )`` or backticks,
a heredoc body, arithmetic, a comment) and replaces the template by a reference to an
environment variable ``OPSBOOK_VALUE_N`` holding the value, written for that context:

======================  ==========================  =================================
context                 written as                  why
======================  ==========================  =================================
unquoted, ``$( )``      ``"${OPSBOOK_VALUE_1}"``    one word, no globbing or splitting
double quotes, heredoc  ``${OPSBOOK_VALUE_1}``      already inside quotes
single quotes           ``'"${OPSBOOK_VALUE_1}"'``  leave the quotes, expand, re-enter
quoted heredoc          the value itself            the shell reads nothing in it
arithmetic ``$(( ))``   ``${OPSBOOK_VALUE_1}``      only when the value is an integer
comment                 nothing                     a newline would end the comment
======================  ==========================  =================================

The shell expands a variable once and never reads the result as code, so whatever the value
holds (quotes, ``$( )``, backticks, newlines) the command receives it byte for byte.

A general shell parser (``bashlex``) was measured for this and not used: it returns words with
their quotes removed, so it cannot say which quoting a position is in, and it refuses valid
``sh`` such as arithmetic and ``case``. The scanner below follows the POSIX token rules for the
few things that change quoting, and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from opsbook.spec.expressions import TEMPLATE

PREFIX = "OPSBOOK_VALUE_"
_INTEGER = re.compile(r"-?[0-9]+")
_WORD_START = " \t\n;&|()<>"


class ShellValueError(ValueError):
    """A value cannot be placed where its ``${{ }}`` stands (the step fails with this message)."""


@dataclass
class Bound:
    """A command with its templates replaced, and the variables that carry their values."""

    command: str
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class _Frame:
    kind: str
    """plain, single, double, backtick, subst, brace, arith, comment."""
    depth: int = 0
    quoted_parent: bool = False


@dataclass
class _Heredoc:
    delimiter: str
    quoted: bool
    strip_tabs: bool


def contexts(command: str) -> list[tuple[int, int, str, str]]:
    """Each template of ``command`` as (start, end, expression, context).

    >>> [c[3] for c in contexts("echo \\"a ${{ x }}\\" ${{ y }} '${{ z }}'")]
    ['double', 'plain', 'single']
    """
    spans = [(m.start(), m.end(), m.group(1)) for m in TEMPLATE.finditer(command)]
    if not spans:
        return []
    found: list[tuple[int, int, str, str]] = []
    scanner = _Scanner(command, spans, found)
    scanner.run()
    return found


class _Scanner:
    def __init__(
        self,
        text: str,
        spans: list[tuple[int, int, str]],
        found: list[tuple[int, int, str, str]],
    ) -> None:
        self.text = text
        self.starts = {start: (end, expr) for start, end, expr in spans}
        self.found = found
        self.stack: list[_Frame] = [_Frame("plain")]
        self.pending: list[_Heredoc] = []
        self.i = 0

    def context(self) -> str:
        top = self.stack[-1]
        if top.kind == "brace":
            return "double" if top.quoted_parent else "plain"
        if top.kind in ("subst", "backtick"):
            return "plain"
        return top.kind

    def take_template(self, ctx: str) -> bool:
        hit = self.starts.get(self.i)
        if hit is None:
            return False
        end, expr = hit
        self.found.append((self.i, end, expr, ctx))
        self.i = end
        return True

    def run(self) -> None:
        text = self.text
        while self.i < len(text):
            if self.take_template(self.context()):
                continue
            kind = self.stack[-1].kind
            ch = text[self.i]
            if kind == "single":
                if ch == "'":
                    self.stack.pop()
                self.i += 1
            elif kind == "comment":
                if ch == "\n":
                    self.stack.pop()
                    continue  # the newline may start heredoc bodies
                self.i += 1
            elif kind == "double":
                self.step_double(ch)
            elif kind == "arith":
                self.step_arith(ch)
            else:
                self.step_plain(ch)

    def expansion(self, quoted: bool) -> bool:
        """``$((``, ``$(``, ``${`` or a backtick at the cursor: enter it."""
        text, i = self.text, self.i
        if text.startswith("$((", i):
            self.stack.append(_Frame("arith"))
            self.i += 3
        elif text.startswith("$(", i):
            self.stack.append(_Frame("subst"))
            self.i += 2
        elif text.startswith("${", i):
            self.stack.append(_Frame("brace", quoted_parent=quoted))
            self.i += 2
        elif text[i] == "`":
            self.stack.append(_Frame("backtick"))
            self.i += 1
        else:
            return False
        return True

    def step_double(self, ch: str) -> None:
        if ch == "\\":
            self.i += 2
        elif ch == '"':
            self.stack.pop()
            self.i += 1
        elif not self.expansion(quoted=True):
            self.i += 1

    def step_arith(self, ch: str) -> None:
        top = self.stack[-1]
        if ch == "(":
            top.depth += 1
        elif ch == ")" and top.depth:
            top.depth -= 1
        elif self.text.startswith("))", self.i):
            self.stack.pop()
            self.i += 2
            return
        self.i += 1

    def step_plain(self, ch: str) -> None:
        top = self.stack[-1]
        text, i = self.text, self.i
        if ch == "\\":
            self.i += 2
        elif ch == "'":
            self.stack.append(_Frame("single"))
            self.i += 1
        elif ch == '"':
            self.stack.append(_Frame("double"))
            self.i += 1
        elif ch == "`" and top.kind == "backtick":
            self.stack.pop()
            self.i += 1
        elif self.expansion(quoted=False):
            pass
        elif ch == "}" and top.kind == "brace":
            self.stack.pop()
            self.i += 1
        elif ch == "(" and top.kind == "subst":
            top.depth += 1
            self.i += 1
        elif ch == ")" and top.kind == "subst":
            if top.depth:
                top.depth -= 1
            else:
                self.stack.pop()
            self.i += 1
        elif ch == "#" and (i == 0 or text[i - 1] in _WORD_START):
            self.stack.append(_Frame("comment"))
            self.i += 1
        elif text.startswith("<<", i) and not text.startswith("<<<", i):
            self.heredoc_operator()
        elif ch == "\n" and self.pending:
            self.i += 1
            self.heredoc_bodies()
        else:
            self.i += 1

    def heredoc_operator(self) -> None:
        text = self.text
        self.i += 2
        strip = text.startswith("-", self.i)
        if strip:
            self.i += 1
        while self.i < len(text) and text[self.i] in " \t":
            self.i += 1
        word = re.match(r"""(?:[^\s;&|<>()'"\\]|\\.|'[^']*'|"[^"]*")+""", text[self.i :])
        if word is None:
            return
        raw = word.group(0)
        self.i += len(raw)
        quoted = any(q in raw for q in "'\"\\")
        delimiter = re.sub(r"""\\(.)|['"]""", lambda m: m.group(1) or "", raw)
        self.pending.append(_Heredoc(delimiter, quoted, strip))

    def heredoc_bodies(self) -> None:
        """The bodies of the heredocs opened on the line that just ended, one after another."""
        pending, self.pending = self.pending, []
        for doc in pending:
            ctx = "heredoc_quoted" if doc.quoted else "heredoc"
            while self.i < len(self.text):
                end = self.text.find("\n", self.i)
                end = len(self.text) if end < 0 else end
                line = self.text[self.i : end]
                if (line.lstrip("\t") if doc.strip_tabs else line) == doc.delimiter:
                    self.i = end + 1
                    break
                while self.i < end:
                    if self.take_template(ctx):
                        continue
                    self.i += 1
                self.i = end + 1


def bind(command: str, value_of: Callable[[str], str], *, prefix: str = PREFIX) -> Bound:
    """Replace each ``${{ expr }}`` by a reference to a variable holding ``value_of(expr)``.

    >>> b = bind("echo \\"v=${{ params.k }}\\"", lambda e: 'x"; touch pwned; echo "')
    >>> b.command, b.env
    ('echo "v=${OPSBOOK_VALUE_1}"', {'OPSBOOK_VALUE_1': 'x"; touch pwned; echo "'})
    """
    found = contexts(command)
    if not found:
        return Bound(command)
    out: list[str] = []
    env: dict[str, str] = {}
    pos = 0
    for n, (start, end, expr, ctx) in enumerate(found, start=1):
        out.append(command[pos:start])
        pos = end
        if ctx == "comment":
            continue
        value = value_of(expr)
        if "\0" in value:
            raise ShellValueError(
                f"the value of ${{{{{expr}}}}} holds a NUL byte, which no command can receive"
            )
        name = f"{prefix}{n}"
        if ctx == "heredoc_quoted":
            out.append(_quoted_heredoc_text(command, start, expr, value))
            continue
        if ctx == "arith" and not _INTEGER.fullmatch(value.strip()):
            raise ShellValueError(
                f"${{{{{expr}}}}} is inside $(( )) but its value is not an integer;"
                " only integers are placed in shell arithmetic"
            )
        env[name] = value
        out.append(_reference(name, ctx))
    out.append(command[pos:])
    return Bound("".join(out), env)


def _reference(name: str, ctx: str) -> str:
    if ctx == "plain":
        return f'"${{{name}}}"'
    if ctx == "single":
        return f"'\"${{{name}}}\"'"
    return f"${{{name}}}"


def _quoted_heredoc_text(command: str, start: int, expr: str, value: str) -> str:
    """A quoted heredoc reads nothing, so the value is written as is, unless it could end it."""
    delimiter = _enclosing_delimiter(command, start)
    if delimiter is not None and any(line.lstrip("\t") == delimiter for line in value.splitlines()):
        raise ShellValueError(
            f"the value of ${{{{{expr}}}}} holds a line '{delimiter}' that would end its heredoc"
        )
    return value


def _enclosing_delimiter(command: str, start: int) -> str | None:
    """The delimiter of the last heredoc opened before ``start``."""
    last: str | None = None
    for match in re.finditer(r"<<-?\s*(['\"]?)([^\s'\"]+)\1", command[:start]):
        last = match.group(2).lstrip("\\")
    return last
