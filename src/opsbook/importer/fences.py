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

from opsbook.importer import alternatives, envcontract, roles
from opsbook.importer.checks import curl_check
from opsbook.importer.commands import Class, classify, classify_all
from opsbook.importer.draft import Draft, EnvEntry, RunbookDraft, StepDraft
from opsbook.importer.markdown import Fence
from opsbook.importer.placeholders import PLACEHOLDER, escape, param_name, substitute
from opsbook.importer.shell import Command, Group, split

SHELL_INFO = ("bash", "sh", "shell", "zsh", "console", "shell-session", "")
SESSION_INFO = ("console", "shell-session")
_REPLACE = re.compile(r"replace|change|your\b|set (this|it)|edit|fill in|update this", re.I)
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
    cleaned = roles.clean(fence.content, fence.first_line, fence.info in SESSION_INFO)
    for dropped in cleaned.dropped:
        draft.skip(dropped.line, dropped.text, dropped.why, note=dropped.note)
    if cleaned.sql:
        draft.add_env(
            EnvEntry("DATABASE_URL", fence.line, secret=True, description=f"read by {runbook.name}")
        )
    if cleaned.script:
        return _script_step(fence, runbook, draft, context, lead)
    state = _BlockState(runbook, draft, context, _assigned(cleaned.content))
    groups = split(cleaned.content, fence.first_line, cleaned.numbers)
    ifs = alternatives.count_ifs([g.name or "" for g in groups])
    branches = alternatives.Branches(runbook, state.steps, allow_if=ifs > 1)
    for number, group in enumerate(groups):
        name = group.name or (lead if number == 0 else None)
        if state.console is not None:
            state.into_console(group)
            continue
        kind = alternatives.marker(group.name + (":" if ifs > 1 else "")) if group.name else None
        if group.name and kind is None and branches.open is not None:
            branches.close()  # in a block, a branch is the one comment group that opened it
        if group.name:
            branches.see(group.name + (":" if ifs > 1 else ""), group.line)
        start = len(state.steps)
        if group.name and not group.commands and kind == "or" and branches.open is not None:
            # "# Or via the dashboard: …": the other branch is done by a person
            state.steps.append(StepDraft("gate", escape(group.name), group.line))
        else:
            _group(state, group, name)
        branches.after(start)
    branches.close()
    return state.steps


def _group(state: _BlockState, group: Group, name: str | None) -> None:
    runbook, draft = state.runbook, state.draft
    if not group.commands:
        if group.name and not _NOTE.match(group.name):
            value = substitute(group.name, runbook.params, group.line)
            state.steps.append(StepDraft("gate", value, group.line, name=None))
        elif group.name:
            draft.skip(group.line, group.name, "shell comment without a command (a note)")
        return
    state.group(group, name)


def _assigned(content: str) -> set[str]:
    """Variables the block sets itself (``NAME=``, ``for NAME in``, ``read NAME``): not contract."""
    names = set(
        re.findall(r"(?:^|[\s;&|(])(?:export\s+|local\s+|readonly\s+)?([A-Za-z_]\w*)=", content)
    )
    names |= set(re.findall(r"\bfor\s+([A-Za-z_]\w*)\s+in\b", content))
    names |= set(re.findall(r"\bread\s+(?:-\w+\s+)*([A-Za-z_]\w*)", content))
    return names


@dataclass
class _BlockState:
    """Steps of one shell block as they are made, and the console a command opened, if any."""

    runbook: RunbookDraft
    draft: Draft
    context: Context
    assigned: set[str]
    steps: list[StepDraft] = field(default_factory=list)
    console: StepDraft | None = None
    """The gate of an interactive command (``ssh host``, ``psql``): later lines go into it."""

    def group(self, group: Group, name: str | None) -> None:
        pending: list[Command] = []
        checks: list[str] = []

        def flush() -> None:
            if checks:
                self._checks(list(checks), group, name)
                checks.clear()
            if pending:
                # the group's first step is traced to its comment, later ones to their command
                first = not any(s.line == group.line for s in self.steps)
                self._run(list(pending), group, name, first=first)
                pending.clear()

        for index, command in enumerate(group.commands):
            text = command.text.strip()
            cd = _CD.match(text)
            if cd:
                flush()  # a cd applies to what comes after it, never to what came before
                self.context.dir = _join(self.context.dir, cd.group(1))
                if not cd.group(2):
                    continue
                text = cd.group(2).strip()
            if self._assignment(text, command.line):
                continue
            text = _secret_values(text, command.line, self.draft, self.runbook.name)
            refs: list[str] = []
            check = curl_check(text, command.line, self.draft, self.runbook.params, refs)
            if check is not None:
                if pending:
                    flush()
                for ref in refs:
                    envcontract.reference_env(
                        f"${ref}", command.line, set(), self.draft, self.runbook.name
                    )
                checks.append(check)  # consecutive probes are one check step
                continue
            cls = classify(text)
            if cls == Class.INTERACTIVE:
                flush()
                self._open_console(Command(command.line, text), group.commands[index + 1 :], name)
                return
            if cls == Class.NEVER_ENDS:
                flush()
                self._run([Command(command.line, text)], group, name, first=False)
                continue
            pending.append(Command(command.line, text))
        flush()

    def _assignment(self, text: str, line: int) -> bool:
        """``export NAME=value`` (the env of later steps), ``NAME=<placeholder>`` (a contract
        entry) and ``export NAME=value  # replace …`` (a param); True when text was one."""
        bare, _, comment = text.partition(" #")
        export = _EXPORT.match(bare.strip())
        if not export:
            return False
        key, value = export.group(1), export.group(2)
        if PLACEHOLDER.fullmatch(value):
            self.draft.add_env(
                EnvEntry(
                    key,
                    line,
                    required=True,
                    secret=envcontract.is_secret(key),
                    description=f"set by {self.runbook.name} (was {value})",
                )
            )
            return True
        if _REPLACE.search(comment) or not value:
            param = param_name(key)
            self.runbook.params.setdefault(param, line)
            self.context.env[key] = "${{ params." + param + " }}"
            return True
        with contextlib.suppress(ValueError):  # an odd quote: keep the value as written
            value = " ".join(shlex.split(value)) if value else ""
        self.context.env[key] = substitute(value, self.runbook.params, line)
        return True

    def _checks(self, checks: list[str], group: Group, name: str | None) -> None:
        self.steps.append(
            StepDraft(
                "check",
                checks[0] if len(checks) == 1 else list(checks),
                group.line,
                name=name,
                dir=self.context.dir,
                env=dict(self.context.env),
            )
        )

    def _run(
        self, commands: list[Command], group: Group, name: str | None, *, first: bool = True
    ) -> None:
        body = "\n".join(c.text for c in commands)
        for command in commands:
            envcontract.reference_env(
                command.text, command.line, self.assigned, self.draft, self.runbook.name
            )
        self.steps.append(
            StepDraft(
                "run",
                substitute(body, self.runbook.params, commands[0].line),
                group.line if group.comments and first else commands[0].line,
                name=name,
                dir=self.context.dir,
                env=dict(self.context.env),
            )
        )

    def _open_console(self, command: Command, rest: list[Command], name: str | None) -> None:
        opened = substitute(command.text, self.runbook.params, command.line)
        items = [f"Open `{opened}`" + (f" ({name})" if name else "") + " and work in it"]
        self.console = StepDraft(
            "gate", items, command.line, name=name, cls=Class.INTERACTIVE.label
        )
        self.steps.append(self.console)
        self.into_console(Group(command.line, [], rest))

    def into_console(self, group: Group) -> None:
        """Lines after an interactive command are typed in it by a person: gate items."""
        assert self.console is not None and isinstance(self.console.value, list)
        for comment in group.comments:
            self.console.value.append(escape(comment))
        for command in group.commands:
            self.console.value.append(
                "In it, run: `" + substitute(command.text, self.runbook.params, command.line) + "`"
            )


def _script_step(
    fence: Fence, runbook: RunbookDraft, draft: Draft, context: Context, lead: str | None
) -> list[StepDraft]:
    """A script (shebang or functions) runs whole, by the shell its shebang names."""
    content = fence.content.rstrip("\n")
    first = content.splitlines()[0] if content else ""
    shell = "bash"
    if first.startswith("#!"):
        interpreter = first[2:].strip().split()
        program = (
            interpreter[-1]
            if interpreter and interpreter[0].endswith("env")
            else (interpreter[0] if interpreter else "bash")
        )
        shell = program.rsplit("/", 1)[-1]
        if shell not in ("bash", "sh", "zsh", "dash", "ksh"):
            draft.skip(fence.line, first, f"a {shell} script (not shell): a note", note=True)
            return []
    result = classify_all(content)
    envcontract.reference_env(content, fence.first_line, _assigned(content), draft, runbook.name)
    body = f"{shell} <<'OPSBOOK_SCRIPT'\n{content}\nOPSBOOK_SCRIPT"
    step = StepDraft(
        "run",
        substitute(body, runbook.params, fence.first_line),
        fence.first_line,
        name=lead or "Run the script",
        dir=context.dir,
        env=dict(context.env),
        cls=result.cls.label,
    )
    return [step]


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
    target = posixpath.normpath(target)
    if target == current or current.endswith("/" + target) or target.startswith(current + "/"):
        # a later block that says `cd web/app` again means the same place, not web/app/web/app
        return target if target.startswith(current + "/") else current
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
    branches = alternatives.Branches(runbook, steps)
    for number, (line, comments, sql) in enumerate(groups):
        name = " ".join(comments) or (lead if number == 0 else None)
        if comments and alternatives.marker(name or "") is None and branches.open is not None:
            branches.close()
        if comments:
            branches.see(" ".join(comments), line)
        start = len(steps)
        _sql_group(line, name, sql, steps, runbook, draft)
        branches.after(start)
    branches.close()
    return steps


def _sql_group(
    line: int,
    name: str | None,
    sql: list[str],
    steps: list[StepDraft],
    runbook: RunbookDraft,
    draft: Draft,
) -> None:
    if not sql:
        if name:
            draft.skip(line, name, "SQL comment without a statement")
        return
    if sql[0].split(maxsplit=1)[0] in _SHELL_WORDS:
        # A shell command pasted into a SQL block (it happens): run it as shell.
        text = substitute("\n".join(sql), runbook.params, line)
        envcontract.reference_env(text, line, set(), draft, runbook.name)
        steps.append(StepDraft("run", text, line, name=name))
        return
    draft.add_env(
        EnvEntry("DATABASE_URL", line, secret=True, description=f"read by {runbook.name}")
    )
    body = "psql \"$DATABASE_URL\" -v ON_ERROR_STOP=1 <<'SQL'\n" + "\n".join(sql) + "\nSQL"
    steps.append(StepDraft("run", substitute(body, runbook.params, line), line, name=name))
