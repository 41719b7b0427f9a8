"""Fenced shell (and SQL) blocks → ``run`` steps.

Comments name steps; a standalone ``cd DIR`` (or a leading ``cd DIR &&``) becomes the ``dir`` of
the steps that follow, and ``export NAME=value`` their ``env``, because each step runs in a
fresh shell. Placeholders become params, ``$NAME`` references env contract entries, and a plain
``curl`` of a health URL a check step. A comment with no command under it that tells a person
to do something ("Verify!", "Edit .env.local") becomes a gate.
"""

from __future__ import annotations

import contextlib
import posixpath
import re
import shlex
from dataclasses import dataclass, field

from opsbook.importer import envcontract
from opsbook.importer.checks import curl_check
from opsbook.importer.draft import Draft, EnvEntry, RunbookDraft, StepDraft
from opsbook.importer.markdown import Fence
from opsbook.importer.placeholders import substitute
from opsbook.importer.shell import Command, Group, split

SHELL_INFO = ("bash", "sh", "shell", "zsh", "console", "shell-session", "")
SQL_INFO = ("sql", "psql", "postgresql", "pgsql")
_CD = re.compile(r"^cd\s+([^\s;&|$`]+)\s*(?:&&\s*(.+))?$", re.S)
_EXPORT = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(\S*)$")
_NOTE = re.compile(
    r"^(or\b|example|e\.g\.|note\b|for example|for minor|long-term|requires\b|see\b)", re.I
)
_SECRET_ASSIGN = re.compile(r"\b([A-Z][A-Z0-9_]*)=<[A-Za-z][\w-]*>")
_SHELL_WORDS = ("curl", "psql", "supabase", "npm", "pnpm", "npx", "node", "gcloud", "kubectl")
_COMMAND_START = re.compile(r"^[\w./$\"'(\[{-]")


@dataclass
class Context:
    """What carries over from one step to the next within a section."""

    dir: str | None = None
    env: dict[str, str] = field(default_factory=dict)


def looks_like_shell(fence: Fence) -> bool:
    """Shell by its info string, or an unlabelled block whose lines read like commands."""
    if fence.info in SHELL_INFO[:-1]:
        return True
    if fence.info:
        return False
    lines = [x.strip() for x in fence.content.splitlines() if x.strip()]
    code = [x for x in lines if not x.startswith("#")]
    return (
        bool(code)
        and all(_COMMAND_START.match(x) for x in code)
        and not (code[0].startswith(("{", "[")))
    )


def fence_steps(
    fence: Fence, runbook: RunbookDraft, draft: Draft, context: Context, lead: str | None
) -> list[StepDraft]:
    """The steps of one fenced block; ``lead`` names an unnamed first group (the list item)."""
    if fence.info in SQL_INFO:
        return _sql_steps(fence, runbook, draft, lead)
    steps: list[StepDraft] = []
    for number, group in enumerate(split(fence.content, fence.first_line)):
        name = group.name or (lead if number == 0 else None)
        if not group.commands:
            if group.name and not _NOTE.match(group.name):
                value = substitute(group.name, runbook.params, group.line)
                steps.append(StepDraft("gate", value, group.line, name=None))
            elif group.name:
                draft.skip(group.line, group.name, "shell comment without a command (a note)")
            continue
        steps.extend(_group_steps(group, name, runbook, draft, context))
    return steps


def _group_steps(
    group: Group, name: str | None, runbook: RunbookDraft, draft: Draft, context: Context
) -> list[StepDraft]:
    commands: list[Command] = []
    checks: list[str] = []
    assigned: set[str] = set()
    for command in group.commands:
        text = command.text.strip()
        cd = _CD.match(text)
        if cd:
            context.dir = _join(context.dir, cd.group(1))
            if not cd.group(2):
                continue
            text = cd.group(2).strip()
        export = _EXPORT.match(text)
        if export:
            key, value = export.group(1), export.group(2)
            with contextlib.suppress(ValueError):  # an odd quote: keep the value as written
                value = " ".join(shlex.split(value)) if value else ""
            context.env[key] = substitute(value, runbook.params, command.line)
            continue
        assigned |= set(re.findall(r"\b([A-Za-z_][A-Za-z0-9_]*)=", text))
        assigned |= set(re.findall(r"\bfor\s+([A-Za-z_][A-Za-z0-9_]*)\s+in\b", text))
        text = _secret_values(text, command.line, draft, runbook.name)
        refs: list[str] = []
        check = curl_check(text, command.line, draft, runbook.params, refs)
        if check is not None:
            for ref in refs:
                envcontract.reference_env(f"${ref}", command.line, set(), draft, runbook.name)
            checks.append(check)
            continue
        commands.append(Command(command.line, text))
    steps: list[StepDraft] = []
    if checks:
        steps.append(
            StepDraft(
                "check",
                checks[0] if len(checks) == 1 else checks,
                group.line,
                name=name,
                dir=context.dir,
                env=dict(context.env),
            )
        )
    if commands:
        body = "\n".join(c.text for c in commands)
        for command in commands:
            envcontract.reference_env(command.text, command.line, assigned, draft, runbook.name)
        steps.append(
            StepDraft(
                "run",
                substitute(body, runbook.params, commands[0].line),
                commands[0].line if not group.comments else group.line,
                name=name,
                dir=context.dir,
                env=dict(context.env),
            )
        )
    return steps


def _secret_values(text: str, line: int, draft: Draft, where: str) -> str:
    """``OPENAI_API_KEY=<prod-key>`` → ``OPENAI_API_KEY=$OPENAI_API_KEY``: a secret comes from
    the environment's env file (masked), never from a ``-p`` param typed on a command line."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if not envcontract.is_secret(name):
            return match.group(0)
        draft.add_env(EnvEntry(name, line, secret=True, description=f"set by {where}"))
        return f"{name}=${name}"

    return _SECRET_ASSIGN.sub(one, text)


def _join(current: str | None, target: str) -> str:
    if target.startswith(("/", "~")) or current is None:
        return posixpath.normpath(target)
    return posixpath.normpath(posixpath.join(current, target))


def _sql_steps(
    fence: Fence, runbook: RunbookDraft, draft: Draft, lead: str | None
) -> list[StepDraft]:
    """SQL blocks run through psql against ``$DATABASE_URL``, one step per ``--`` comment."""
    steps: list[StepDraft] = []
    groups: list[tuple[int, list[str], list[str]]] = []
    for offset, raw in enumerate(fence.content.splitlines()):
        line = fence.first_line + offset
        text = raw.strip()
        if text.startswith("--"):
            if not groups or groups[-1][2]:
                groups.append((line, [], []))
            groups[-1][1].append(text.lstrip("-").strip())
        elif text:
            if not groups:
                groups.append((line, [], []))
            groups[-1][2].append(raw.rstrip())
    for number, (line, comments, sql) in enumerate(groups):
        name = " ".join(comments) or (lead if number == 0 else None)
        if not sql:
            if name:
                draft.skip(line, name, "SQL comment without a statement")
            continue
        if sql[0].split(maxsplit=1)[0] in _SHELL_WORDS:
            # A shell command pasted into a SQL block (it happens): run it as shell.
            text = substitute("\n".join(sql), runbook.params, line)
            envcontract.reference_env(text, line, set(), draft, runbook.name)
            steps.append(StepDraft("run", text, line, name=name))
            continue
        draft.add_env(
            EnvEntry("DATABASE_URL", line, secret=True, description=f"read by {runbook.name}")
        )
        body = "psql \"$DATABASE_URL\" -v ON_ERROR_STOP=1 <<'SQL'\n" + "\n".join(sql) + "\nSQL"
        steps.append(StepDraft("run", substitute(body, runbook.params, line), line, name=name))
    return steps
