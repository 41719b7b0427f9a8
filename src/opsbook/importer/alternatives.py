"""Alternatives ("Option A / Option B", "Either … Or …", "Alternatively", "If X … If Y …") →
one choice param per alternative, and an ``if:`` on every step of each branch.

    choice = Choice.start(runbook, line=40)
    choice.branch("Option A: reset with the CLI", steps_of_a)
    choice.branch("Option B: restore a backup", steps_of_b)
    # params.choice: {required: true, choices: [option-a-reset-with-the-cli, ...]}
    # each step of A: if: ${{ params.choice == 'option-a-reset-with-the-cli' }}

The person running the runbook picks the branch with ``-p choice=…``; the plan shows which
steps run and which are skipped, and only one branch ever runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from opsbook.importer.draft import RunbookDraft, StepDraft, slug

_OPTION = re.compile(
    r"^\W*(option|method|approach|alternative|variant|path|choice|scenario)\s+"
    r"([A-Z]|\d+|one|two|three|four)\b",
    re.I,
)
_OR = re.compile(r"^\W*(or\b|alternatively\b|otherwise\b|alternative\s*:|instead\b)", re.I)
_EITHER = re.compile(r"^\W*either\b", re.I)
_IF = re.compile(r"^\W*(if|when|for)\b.{2,100}:\W*$", re.I)
_END = re.compile(r"^\W*(then|after (that|either|both)|once (done|complete)|finally|next)\b", re.I)


def marker(text: str, *, heading: bool = False) -> str | None:
    """``option``, ``or``, ``either`` or ``if`` when text opens a branch; ``end`` when it says
    the branches are over ("Then …", "Finally …"); else None. A heading needs no colon."""
    if heading and re.match(r"^\W*(if|when)\b", text, re.I):
        return "if"
    if _OPTION.match(text):
        return "option"
    if _EITHER.match(text):
        return "either"
    if _OR.match(text):
        return "or"
    if _IF.match(text):
        return "if"
    if _END.match(text):
        return "end"
    return None


def _meaningful(label: str) -> str:
    """A label without its marker words ("Or, run:" says nothing; "Or pin the image" does)."""
    words = re.sub(r"[*_`:,]", " ", label)
    words = re.sub(r"^\W*(or|either|alternatively|otherwise|instead)\b", "", words, flags=re.I)
    if not re.sub(r"\b(run|use|do|this|you can|can)\b|\W", "", words, flags=re.I):
        return ""
    return words


@dataclass
class Choice:
    """One alternative: a param whose value picks the branch that runs."""

    runbook: RunbookDraft
    param: str

    @classmethod
    def start(cls, runbook: RunbookDraft, line: int) -> Choice:
        param, number = "choice", 2
        while param in runbook.params or param in runbook.choices:
            param = f"choice_{number}"
            number += 1
        runbook.params[param] = line
        runbook.choices[param] = []
        return cls(runbook, param)

    def branch(self, label: str, steps: list[StepDraft]) -> str:
        """Put steps on a branch named after label; returns the choice's value."""
        taken = self.runbook.choices[self.param]
        first = steps[0].value if isinstance(steps[0].value, str) else steps[0].value[0]
        words = _meaningful(label) or _meaningful(steps[0].name or "") or first.splitlines()[0]
        base = slug(words, limit=40, fallback="branch")
        value, number = base, 2
        while value in taken:
            value = f"{base}-{number}"
            number += 1
        taken.append(value)
        condition = "params." + self.param + " == '" + value + "'"
        for step in steps:
            if step.condition:
                inner = step.condition.removeprefix("${{").removesuffix("}}").strip()
                step.condition = "${{ (" + inner + ") && " + condition + " }}"
            else:
                step.condition = "${{ " + condition + " }}"
        return value

    def finish(self) -> None:
        """A lone branch gets a way not to take it; a choice without branches goes away."""
        taken = self.runbook.choices[self.param]
        if not taken:
            del self.runbook.choices[self.param]
            del self.runbook.params[self.param]
        elif len(taken) == 1:
            taken.append("neither")


def count_ifs(texts: list[str]) -> int:
    """How many "If X:" labels stand among these texts."""
    return sum(1 for text in texts if marker(text) == "if")


def is_alternative(titles: list[str]) -> bool:
    """Whether sibling headings are branches of one alternative (two or more say so)."""
    kinds = [marker(t, heading=True) for t in titles]
    return sum(1 for k in kinds if k in ("option", "or", "either", "if")) >= 2


@dataclass
class Branches:
    """Follows the markers of one sequence of blocks (a section, a list, a shell block) while
    their steps are appended to ``steps``, and puts each branch's steps on its choice."""

    runbook: RunbookDraft
    steps: list[StepDraft]
    allow_if: bool = True
    """"If X:" opens a branch only where two or more such labels stand side by side."""
    choice: Choice | None = None
    open: tuple[str, int] | None = None
    last: tuple[int, int] | None = None
    """The steps the previous block made (an "Or" turns them into the first branch)."""

    def see(self, text: str, line: int, *, heading: bool = False) -> None:
        """Called with a block's text before its steps are appended."""
        kind = marker(text, heading=heading)
        if kind is None or (kind == "if" and not self.allow_if):
            return
        now = len(self.steps)
        if kind == "end":
            self.close()
            return
        if kind == "or" and self.open is None:
            if self.last is None or self.last[0] == self.last[1]:
                return
            self.choice = Choice.start(self.runbook, line)
            first = self.steps[self.last[0] : self.last[1]]
            self.choice.branch(first[0].name or "", first)
            self.open = (text, now)
            return
        if self.open is not None:
            self._tag(now)
        if self.choice is None or kind == "either":
            self._finish()
            self.choice = Choice.start(self.runbook, line)
        self.open = (text, now)

    def after(self, start: int) -> None:
        """Called after a block appended its steps (from index ``start`` on)."""
        self.last = (start, len(self.steps))

    def close(self) -> None:
        if self.open is not None:
            self._tag(len(self.steps))
        self._finish()

    def _tag(self, now: int) -> None:
        assert self.open is not None and self.choice is not None
        label, start = self.open
        self.open = None
        if self.steps[start:now]:
            self.choice.branch(label, self.steps[start:now])

    def _finish(self) -> None:
        if self.choice is not None:
            self.choice.finish()
            self.choice = None
