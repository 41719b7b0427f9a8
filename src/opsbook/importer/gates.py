"""Checklists (``- [ ]``) and numbered procedures → gate steps, with command items as run steps.

A person confirms what cannot be automated: consecutive prose items become one gate (a
checklist), an item that is a backticked command (`` `npm run lint` ``, "Run `make ready`")
becomes a ``run`` step, and an item naming a health path with "ensure …" becomes a check.
An item that says "manually" (or offers alternatives with "or") stays with the person.
"""

from __future__ import annotations

import re

from opsbook.importer import envcontract
from opsbook.importer.checks import sentence_checks
from opsbook.importer.commands import known_program
from opsbook.importer.draft import Draft, RunbookDraft, StepDraft
from opsbook.importer.markdown import Inline, Item, simple_lead
from opsbook.importer.placeholders import escape, substitute

COMMANDS = {
    "npm", "pnpm", "yarn", "npx", "bun", "bunx", "node", "deno", "make", "supabase", "vercel",
    "netlify", "git", "docker", "kubectl", "helm", "gcloud", "aws", "az", "fly", "flyctl",
    "railway", "heroku", "terraform", "psql", "pg_dump", "curl", "wget", "redis-cli",
    "systemctl", "pm2", "bash", "sh", "python", "python3", "pip", "uv", "poetry", "pytest",
    "cargo", "go", "mvn", "gradle", "ruby", "bundle", "rails", "php", "composer", "wrangler",
    "expo", "eas", "firebase", "cd", "export", "cp", "mv", "rm", "mkdir", "ls", "cat", "grep",
    "playwright", "turbo", "nx", "opsbook", "stripe", "sentry-cli", "doctl", "ssh", "scp",
}  # fmt: skip
_LEAD_OK = re.compile(r"(^|\b(run|execute|with|via|using|by running)\s*:?|:|\()\s*$", re.I)
_HUMAN = re.compile(r"\b(manual(ly)?|dashboard|console|UI|browser|by hand)\b", re.I)
_CONDITIONAL = re.compile(r"^\s*(if|when|for|once|after)\b", re.I)


def is_command(code: str) -> bool:
    """Whether a code span reads as a shell command rather than a name or a path."""
    words = code.strip().split()
    if not words:
        return False
    first = words[0]
    while "=" in first and len(words) > 1 and re.match(r"^[A-Z_][A-Z0-9_]*=", first):
        words = words[1:]
        first = words[0]
    if first in COMMANDS or (known_program(first) and "/" not in first):
        return len(words) > 1 or first in ("make",)
    return first.startswith(("./", "bin/")) and len(first) > 4


def command_of(inline: Inline) -> str | None:
    """The command an item asks to run, when the item is that command (plus a purpose clause)."""
    commands = [c for c in inline.codes if is_command(c)]
    if len(commands) != 1:
        return None
    prose = inline.prose
    before = inline.text.split("`" + commands[0] + "`", 1)[0].replace("`", "")
    if _HUMAN.search(prose) or _CONDITIONAL.match(inline.text):
        return None
    if re.search(r"\bor\b", prose):
        return None  # alternatives: a person chooses
    return commands[0] if simple_lead(before) and _LEAD_OK.search(before) else None


def item_text(item: Item) -> str:
    """An item's text without Markdown backticks, for gate items and names."""
    return item.inline.text.replace("`", "").strip()


def item_steps(
    items: list[Item], runbook: RunbookDraft, draft: Draft, *, human: bool = False
) -> list[StepDraft]:
    """Steps for a list's items: runs, checks, and gates grouping consecutive prose items."""
    steps: list[StepDraft] = []
    pending: list[tuple[int, str]] = []

    def flush() -> None:
        if pending:
            values = [escape(text) for _, text in pending]
            value: str | list[str] = values[0] if len(values) == 1 else values
            steps.append(StepDraft("gate", value, pending[0][0]))
            pending.clear()

    for item in items:
        text = item_text(item)
        if not text and not item.children:
            continue
        command = None if human else command_of(item.inline)
        checks = [] if human else sentence_checks(item.inline, item.line, draft)
        if command is not None:
            flush()
            envcontract.reference_env(command, item.line, set(), draft, runbook.name)
            name = _name(item.inline, command)
            run = substitute(command, runbook.params, item.line)
            steps.append(StepDraft("run", run, item.line, name=name))
        elif checks:
            flush()
            names: str | list[str] = checks[0] if len(checks) == 1 else checks
            steps.append(StepDraft("check", names, item.line, name=escape(text)[:120]))
        else:
            pending.append((item.line, text))
    flush()
    return steps


def _name(inline: Inline, command: str) -> str | None:
    """ "Run `x` to emit the workers" → "Run x to emit the workers"; a bare command → None."""
    text = inline.text.replace("`", "").strip().rstrip(".")
    return escape(text)[:120] if text != command else None
