"""Env-var tables, env-var bullet lists and ``$VAR`` references → the ``env`` contract."""

from __future__ import annotations

import re

from opsbook.importer.draft import Draft, EnvEntry
from opsbook.importer.markdown import Inline, ListBlock, Table
from opsbook.secretnames import is_secret as is_secret  # re-exported for the importer

ENV_NAME = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$")
_REF = re.compile(r"\$\{?([A-Z][A-Z0-9_]*)\}?")
_SHELL_SPECIAL = {"HOME", "PATH", "PWD", "USER", "SHELL", "OLDPWD", "IFS", "RANDOM", "HOSTNAME"}

_NAME_HEADERS = ("variable", "name", "key", "env", "environment variable", "var")
_YES = ("✅", "✔", "yes", "y", "true", "required", "mandatory", "x")
_NO = (
    "⛔",
    "❌",
    "no",
    "n",
    "false",
    "optional",
    "⚠",
    "not required",
    "-",
    "–",
    "—",
    "",
    "recommended",
)
_NO_DEFAULT = ("", "-", "–", "—", "empty", "none", "n/a", "(none)", "null")


def env_names(inline: Inline) -> list[str]:
    """The variable names spelled as code spans in a piece of text."""
    return [code for code in inline.codes if ENV_NAME.match(code)]


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    for index, title in enumerate(header):
        if title.strip().lower().strip("*` ") in names:
            return index
    return None


def is_env_table(table: Table) -> bool:
    """A table with a Variable/Name/Key column whose cells are mostly variable names."""
    column = _column(table.header, _NAME_HEADERS)
    if column is None:
        return False
    names = [row[column] for row in table.rows if column < len(row)]
    hits = sum(1 for cell in names if _cell_name(cell))
    return hits > 0 and hits * 2 >= len(names)


def _cell_name(cell: Inline) -> str | None:
    text = cell.codes[0] if cell.codes else cell.text.strip()
    return text if ENV_NAME.match(text) or re.fullmatch(r"[A-Z][A-Z0-9_]+", text) else None


def _flag(text: str) -> bool | None:
    value = text.strip().lower().replace("\ufe0f", "")
    if any(value.startswith(y) for y in ("✅", "✔")) or value in _YES:
        return True
    if (
        any(value.startswith(n) for n in ("⛔", "❌", "⚠", "optional", "recommended"))
        or value in _NO
    ):
        return False
    return None


def table_env(table: Table, draft: Draft) -> int:
    """Add an env table's rows to the contract; returns how many variables it held."""
    header = table.header
    name_col = _column(header, _NAME_HEADERS)
    required_col = _column(header, ("required", "required?", "req", "mandatory"))
    default_col = _column(header, ("default", "default value", "defaults"))
    description_col = _column(header, ("description", "purpose", "notes", "meaning"))
    service_col = _column(header, ("service", "provider", "tool", "component"))
    count = 0
    for row, line in zip(table.rows, table.row_lines, strict=True):

        def cell(index: int | None, row: list[Inline] = row) -> Inline | None:
            return row[index] if index is not None and index < len(row) else None

        name_cell = cell(name_col)
        name = _cell_name(name_cell) if name_cell else None
        if name is None:
            draft.skip(line, " | ".join(c.text for c in row), "env table row without a name")
            continue
        required_cell = cell(required_col)
        flag = _flag(required_cell.text) if required_cell else None
        if required_cell is not None and flag is None:
            draft.skip(line, required_cell.text, f"unclear Required value for {name}; left false")
        default_cell = cell(default_col)
        default = raw = None
        if default_cell is not None:
            raw = default_cell.codes[0] if default_cell.codes else default_cell.text.strip()
            default = None if raw.lower() in _NO_DEFAULT else raw
        if default is not None and is_secret(name, default):
            # opsbook.yaml is checked in: a secret's value never goes into it.
            draft.skip(line, name, "default of a secret variable not copied; put it in an env file")
            default = None
        description = cell(description_col)
        service = cell(service_col)
        draft.add_env(
            EnvEntry(
                name,
                line,
                required=bool(flag),
                default=default,
                secret=is_secret(name, raw),
                description=description.text.replace("`", "") if description else None,
                service=service.text if service and service.text else None,
            )
        )
        count += 1
    return count


def is_env_list(block: ListBlock) -> bool:
    """A bullet list whose items mostly start with a backticked variable name."""
    starts = [
        item for item in block.items if item.inline.text.startswith("`") and env_names(item.inline)
    ]
    return bool(starts) and len(starts) * 2 > len(block.items)


def list_env(block: ListBlock, draft: Draft, description: str | None = None) -> int:
    """Add the variables of an env bullet list; ``(optional)`` marks one not required."""
    count = 0
    for item in block.items:
        names = env_names(item.inline)
        if not names:
            continue
        said = f"{item.inline.prose} {description or ''}".lower()
        optional = "optional" in said or "recommended" in said
        for name in names:
            draft.add_env(
                EnvEntry(
                    name,
                    item.line,
                    required=not optional,
                    secret=is_secret(name),
                    description=description,
                )
            )
            count += 1
    return count


def references(command: str, assigned: set[str]) -> list[str]:
    """``$NAME`` / ``${NAME}`` references in a shell command that the shell does not set itself."""
    found: list[str] = []
    for match in _REF.finditer(command):
        name = match.group(1)
        if name in assigned or name in _SHELL_SPECIAL or name in found:
            continue
        found.append(name)
    return found


def reference_env(command: str, line: int, assigned: set[str], draft: Draft, where: str) -> None:
    """Declare each variable a command reads (not required: only some runbooks need it)."""
    for name in references(command, assigned):
        draft.add_env(EnvEntry(name, line, secret=is_secret(name), description=f"read by {where}"))


_DOTENV = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
_PLACEHOLDER_VALUE = re.compile(
    r"^[\"']?(<[^>]*>|your[-_].*|YOUR_.*|changeme|xxx+|\.\.\.)?[\"']?$", re.I
)


def dotenv_block(content: str, first_line: int, draft: Draft, where: str) -> None:
    """``KEY=value`` lines of an env-file block → contract entries (required; secret by name;
    a non-secret, non-placeholder value is kept as the example); other lines are reported."""
    for offset, raw in enumerate(content.splitlines()):
        text = raw.strip()
        line = first_line + offset
        if not text or text.startswith("#"):
            continue
        match = _DOTENV.match(text)
        if not match:
            draft.skip(line, text, "env file line that is not NAME=value")
            continue
        name, value = match.group(1), match.group(2).split(" #", 1)[0].strip()
        placeholder = bool(_PLACEHOLDER_VALUE.fullmatch(value))
        secret = is_secret(name, value)
        draft.add_env(
            EnvEntry(
                name,
                line,
                required=True,
                secret=secret,
                description=f"from the env file in {where}",
                example=None if secret or placeholder else value.strip("\"'"),
            )
        )
