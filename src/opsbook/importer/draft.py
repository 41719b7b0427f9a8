"""What an import produces before it becomes YAML: plain records, each knowing its source line.

Every stage of the importer appends to one :class:`Draft`; the emitter turns it into
opsbook.yaml text and the report lists :attr:`Draft.unmapped`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_SLUG = re.compile(r"[^a-z0-9]+")


def slug(text: str, limit: int = 48, fallback: str = "step") -> str:
    """A lowercase, hyphenated id that opsbook accepts (starts with a letter).

    >>> slug("3. Deploy Edge Functions (Production)")
    'deploy-edge-functions-production'
    """
    text = re.sub(r"^\s*\d+[a-z]?[.)]?\s+", "", text)  # "3a. Cutover" → "cutover"
    words = _SLUG.sub("-", text.lower()).strip("-")
    words = re.sub(r"^[0-9-]+", "", words)
    if len(words) > limit:
        words = words[:limit].rsplit("-", 1)[0] or words[:limit]
    return words.strip("-") or fallback


def unique(name: str, taken: set[str]) -> str:
    """name, or name-2, name-3 ... whichever is not taken yet; records the choice."""
    candidate, number = name, 2
    while candidate in taken:
        candidate = f"{name}-{number}"
        number += 1
    taken.add(candidate)
    return candidate


@dataclass
class EnvEntry:
    name: str
    line: int
    required: bool = False
    default: str | None = None
    secret: bool = False
    description: str | None = None
    service: str | None = None
    example: str | None = None
    file: str | None = None
    """Source file when it is not the draft's (``opsbook init`` reads several)."""


@dataclass
class CheckDraft:
    name: str
    line: int
    http: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    expect: dict[str, Any] = field(default_factory=dict)
    description: str | None = None


@dataclass
class StepDraft:
    kind: str
    """run, check or gate."""
    value: str | list[str]
    line: int
    name: str | None = None
    dir: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    id: str = ""
    condition: str | None = None
    irreversible: bool = False
    read_only: bool = False
    """A command that changes nothing (lint, typecheck, tests): ``read_only: true``."""
    file: str | None = None
    confirm: bool = False
    """A human confirms the exact command before it runs (it changes or deletes something)."""
    cls: str | None = None
    """The command class (``commands.Class`` label) once known; set by :mod:`safety`."""
    description: str | None = None
    timeout: str | None = None


@dataclass
class RunbookDraft:
    name: str
    line: int
    description: str | None = None
    steps: list[StepDraft] = field(default_factory=list)
    params: dict[str, int] = field(default_factory=dict)
    """Param name → line where its placeholder first appears."""
    choices: dict[str, list[str]] = field(default_factory=dict)
    """Params that choose one branch of an alternative → their choices."""


@dataclass
class Unmapped:
    line: int
    what: str
    why: str
    note: bool = False
    """Kept as a note (config, crontab, code in another language), not just unmapped."""


@dataclass
class Draft:
    """Everything one import found."""

    file: str
    project: str = "project"
    env: dict[str, EnvEntry] = field(default_factory=dict)
    checks: dict[str, CheckDraft] = field(default_factory=dict)
    runbooks: dict[str, RunbookDraft] = field(default_factory=dict)
    operations: dict[str, list[tuple[int, Any]]] = field(default_factory=dict)
    """Category (alerts, slos, severities ...) → (line, entry) pairs for x-operations."""
    vars: dict[str, tuple[int, str]] = field(default_factory=dict)
    """Environment vars every environment needs (e.g. BASE_URL) → (line, placeholder value)."""
    unmapped: list[Unmapped] = field(default_factory=list)
    monitoring: dict[str, int] = field(default_factory=dict)
    """Metrics, alerts and slos made from x-operations → how many (set when emitted)."""
    placeholders: list[str] = field(default_factory=list)
    """Metrics whose source the runbook does not name (``command: exit 1`` until set)."""

    def add_env(self, entry: EnvEntry) -> None:
        """Add a contract entry; a later mention only fills what the first one left open."""
        known = self.env.get(entry.name)
        if known is None:
            self.env[entry.name] = entry
            return
        known.required = known.required or entry.required
        known.default = known.default if known.default is not None else entry.default
        known.description = known.description or entry.description
        known.service = known.service or entry.service

    def operation(self, category: str, line: int, entry: Any) -> None:
        self.operations.setdefault(category, []).append((line, entry))

    def skip(self, line: int, what: str, why: str, *, note: bool = False) -> None:
        self.unmapped.append(Unmapped(line, what[:200], why, note))
