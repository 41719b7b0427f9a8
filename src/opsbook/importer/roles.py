"""Block roles: which lines of a shell block are commands, and which are not.

A runbook's shell blocks hold more than commands. Before a block is split into steps:

- a session (lines after ``$ `` or ``# `` prompts) keeps only what follows the prompts; the
  lines after a command are its example output, never run;
- a line that looks like output (a table header such as ``NAME  READY  STATUS`` and the rows
  under it) is dropped;
- config-file lines (``shared_buffers = 256MB``, ``[section]``) and crontab lines are notes;
- SQL statements written in a shell block run through ``psql "$DATABASE_URL"`` as one step;
- a script (a shebang, or a function definition) is kept whole.

Every dropped line is listed in the import report with its source line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from opsbook.importer.commands import Class, classify, known_program
from opsbook.importer.shell import balanced

_PROMPT = re.compile(r"^(\$|#|>|[\w.@-]+[$#]|\(\w+\)\s*\$)\s(?=\S)")
_HEADER = re.compile(r"^[A-Z][A-Z0-9_%()-]*(?:\s{2,}|\t)[A-Z][A-Z0-9_%() -]*$")
_CONFIG = re.compile(r"^(?:[A-Za-z_][\w.-]*\s+=\s*\S|[A-Za-z_][\w.-]*\s*=\s+\S|\[[\w .:-]+\]$)")
_CRON = re.compile(
    r"^(?:@(?:reboot|yearly|annually|monthly|weekly|daily|hourly)|(?:[\d*/,-]+\s+){4}[\d*/,-]+)\s+\S"
)
_SQL_START = re.compile(
    r"^(SELECT|INSERT|UPDATE|DELETE|CREATE|ALTER|DROP|TRUNCATE|GRANT|REVOKE|BEGIN|COMMIT|"
    r"ROLLBACK|WITH|EXPLAIN|VACUUM|ANALYZE|REINDEX|SHOW|COPY|CALL)\b"
)
_SHEBANG = re.compile(r"^#!")
_FUNCTION = re.compile(r"^\s*(function\s+[A-Za-z_][\w-]*|[A-Za-z_][\w-]*\s*\(\)\s*\{?)")
_SQL_OPEN = "psql \"$DATABASE_URL\" -v ON_ERROR_STOP=1 <<'SQL'"


@dataclass
class Dropped:
    line: int
    text: str
    why: str
    note: bool = False
    """A note (config, crontab, other code) rather than example output or a prompt's echo."""


@dataclass
class Cleaned:
    """A shell block's text with only its commands left (other lines blank, numbering kept)."""

    content: str
    numbers: list[int] = field(default_factory=list)
    """The source line of each line of ``content``."""
    dropped: list[Dropped] = field(default_factory=list)
    script: bool = False
    sql: bool = False
    """Whether SQL lines were wrapped into a psql heredoc (the contract then needs the URL)."""


def is_script(content: str) -> bool:
    """A shebang or a function definition: one script, kept whole."""
    lines = [x for x in content.splitlines() if x.strip()]
    if lines and _SHEBANG.match(lines[0]):
        return True
    return any(_FUNCTION.match(x) and not x.strip().startswith("#") for x in lines)


def clean(content: str, first_line: int, session: bool) -> Cleaned:
    """Keep the commands of a shell block; ``session`` forces prompt reading (console blocks)."""
    lines = content.splitlines()
    if is_script(content):
        return Cleaned(content, list(range(first_line, first_line + len(lines))), script=True)
    session = session or any(_PROMPT.match(x) and x.startswith("$ ") for x in lines)
    result = Cleaned("")
    kept = _session(lines, first_line, result) if session else _plain(lines, first_line, result)
    numbered = _wrap_sql(kept, first_line, result)
    result.content = "\n".join(x for _, x in numbered)
    result.numbers = [n for n, _ in numbered]
    return result


def _session(lines: list[str], first_line: int, result: Cleaned) -> list[str]:
    kept: list[str] = []
    continuing = False
    for offset, raw in enumerate(lines):
        prompt = _PROMPT.match(raw)
        if continuing:
            kept.append(raw)
            continuing = raw.rstrip().endswith("\\")
            continue
        if prompt and (raw.startswith("$") or _commandish(raw[prompt.end() :])):
            command = raw[prompt.end() :]
            kept.append(command)
            continuing = command.rstrip().endswith("\\")
            continue
        if raw.strip().startswith("#") and not prompt:
            kept.append(raw)
            continue
        kept.append("")
        if raw.strip():
            result.dropped.append(Dropped(first_line + offset, raw.strip(), "example output"))
    return kept


def _commandish(text: str) -> bool:
    words = text.split()
    return bool(words) and known_program(words[0])


def _plain(lines: list[str], first_line: int, result: Cleaned) -> list[str]:
    kept: list[str] = []
    in_output = in_config = False
    for offset, raw in enumerate(lines):
        text = raw.strip()
        line = first_line + offset
        if not text:
            in_output = in_config = False
            kept.append(raw)
            continue
        if in_config and not text.startswith("#"):
            result.dropped.append(Dropped(line, text, "config file line (a note)", note=True))
            kept.append("")
            continue
        continued = bool(kept) and kept[-1].rstrip().endswith("\\")
        if not continued and (in_output or _HEADER.match(text)):
            in_output = True
            result.dropped.append(Dropped(line, text, "example output"))
            kept.append("")
            continue
        if not continued and _CRON.match(text):
            result.dropped.append(Dropped(line, text, "crontab line (a note)", note=True))
            kept.append("")
            continue
        if not continued and _CONFIG.match(text) and not text.startswith("["):
            result.dropped.append(Dropped(line, text, "config file line (a note)", note=True))
            kept.append("")
            continue
        if not continued and re.fullmatch(r"\[[\w .:-]+\]", text):
            in_config = True
            result.dropped.append(Dropped(line, text, "config file line (a note)", note=True))
            kept.append("")
            continue
        kept.append(raw)
    return kept


def _wrap_sql(lines: list[str], first_line: int, result: Cleaned) -> list[tuple[int, str]]:
    """Runs of SQL statements → one psql heredoc each (not inside a database console)."""
    out: list[tuple[int, str]] = []
    index = 0
    console = False
    while index < len(lines):
        text = lines[index].strip()
        line = first_line + index
        if text and not text.startswith("#") and not console:
            console = classify(text) == Class.INTERACTIVE
        inside = _inside_heredoc(out) or not balanced("\n".join(x for _, x in out))
        if _SQL_START.match(text) and not console and not inside:
            result.sql = True
            out.append((line, _SQL_OPEN))
            while index < len(lines) and lines[index].strip() and not lines[index].startswith("#"):
                out.append((first_line + index, lines[index].rstrip()))
                index += 1
                ended = lines[index - 1].rstrip().endswith(";")
                if ended and index < len(lines) and not _SQL_START.match(lines[index].strip()):
                    break  # the statements are over; a shell command follows
            out.append((first_line + index - 1, "SQL"))
            continue
        out.append((line, lines[index]))
        index += 1
    return out


def _inside_heredoc(lines: list[tuple[int, str]]) -> bool:
    text = "\n".join(x for _, x in lines)
    opened = re.findall(r"<<-?\s*['\"]?(\w+)['\"]?", text)
    return any(not re.search(rf"^\s*{word}\s*$", text, re.M) for word in opened)
