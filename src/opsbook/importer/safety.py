"""Command classes → what an imported step may do on its own.

Runs after a runbook's steps are made, whatever made them (shell blocks, list items, SQL):

- *read-only* commands stay plain ``run`` steps, ``read_only: true``;
- commands that *change* things get ``confirm: true``: a human confirms the exact command;
- *destructive* ones also get ``irreversible: true`` (rollback never goes past them);
- commands that *never end* (follow, tail, watch, serve) become a gate telling the person what
  to watch; *interactive* ones (editors, consoles, remote shells) a gate saying what to open.
"""

from __future__ import annotations

from opsbook.importer.commands import Class, classify
from opsbook.importer.draft import RunbookDraft, StepDraft
from opsbook.importer.placeholders import escape

_BY_LABEL = {c.label: c for c in Class}


def apply(runbook: RunbookDraft) -> None:
    """Set each run step's class and the fields that follow from it."""
    for step in runbook.steps:
        if step.kind != "run" or not isinstance(step.value, str):
            continue
        cls = _BY_LABEL[step.cls] if step.cls else classify(step.value)
        step.cls = cls.label
        if cls == Class.READ_ONLY:
            step.read_only = True
        elif cls in (Class.CHANGES, Class.DESTRUCTIVE):
            step.confirm = True
            step.irreversible = step.irreversible or cls == Class.DESTRUCTIVE
        else:
            _to_gate(step, cls)


def _to_gate(step: StepDraft, cls: Class) -> None:
    command = str(step.value)
    why = f": {step.name}" if step.name else ""
    if cls == Class.NEVER_ENDS:
        text = (
            f"In a terminal, run `{command}` and watch it{why}; stop it (Ctrl-C) when you have"
            " seen what you need"
        )
    else:
        text = f"Open `{command}` and do what the runbook says there{why}"
    step.kind = "gate"
    step.value = escape(text) if "${{" not in command else text
    step.read_only = step.irreversible = step.confirm = False
