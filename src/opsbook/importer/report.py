"""The import report: what was made of the runbook, and every line that mapped to nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opsbook.importer.commands import Class
from opsbook.importer.draft import Draft, Unmapped

CLASSES = [c.label for c in Class]


@dataclass
class Counts:
    """How much of each kind an import produced (also what the tests assert)."""

    env: int = 0
    checks: int = 0
    runbooks: int = 0
    run_steps: int = 0
    check_steps: int = 0
    gate_steps: int = 0
    gate_items: int = 0
    params: int = 0
    operations: dict[str, int] = field(default_factory=dict)
    classes: dict[str, int] = field(default_factory=dict)
    """Imported commands per class (read-only, changes, destructive, never-ends, interactive)
    and the lines kept as notes (config, crontab, other languages)."""


def count(draft: Draft) -> Counts:
    counts = Counts(env=len(draft.env), checks=len(draft.checks), runbooks=len(draft.runbooks))
    counts.classes = dict.fromkeys(CLASSES, 0)
    counts.classes["notes"] = sum(1 for item in draft.unmapped if item.note)
    for runbook in draft.runbooks.values():
        counts.params += len(runbook.params)
        for step in runbook.steps:
            if step.cls:
                counts.classes[step.cls] += 1
            if step.kind == "run":
                counts.run_steps += 1
            elif step.kind == "check":
                counts.check_steps += 1
            elif step.kind == "gate":
                counts.gate_steps += 1
                counts.gate_items += 1 if isinstance(step.value, str) else len(step.value)
    counts.operations = {k: len(v) for k, v in draft.operations.items()}
    return counts


def render(draft: Draft, output: str) -> str:
    """The report as Markdown."""
    counts = count(draft)
    lines = [
        f"# Import report: {draft.file} → {output}",
        "",
        f"- env variables: {counts.env}",
        f"- checks: {counts.checks}",
        f"- runbooks: {counts.runbooks} ({', '.join(draft.runbooks) or 'none'})",
        f"- steps: {counts.run_steps} run, {counts.check_steps} check, "
        f"{counts.gate_steps} gate ({counts.gate_items} gate items)",
        f"- params (placeholders): {counts.params}",
    ]
    if counts.operations:
        kept = ", ".join(f"{k} {v}" for k, v in counts.operations.items())
        lines.append(f"- kept under x-operations: {kept}")
    if draft.monitoring:
        made = ", ".join(f"{k} {v}" for k, v in draft.monitoring.items())
        lines.append(f"- made from x-operations: {made}")
    classes = ", ".join(f"{k} {v}" for k, v in counts.classes.items())
    lines.append(f"- commands by class: {classes}")
    if draft.vars:
        names = ", ".join(draft.vars)
        lines.append(f"- environment vars to set in every environment: {names}")
    lines += ["", f"## Not mapped ({len(draft.unmapped)})", ""]
    lines += [_row(draft.file, item) for item in draft.unmapped] or ["Nothing: every line mapped."]
    if draft.placeholders:
        lines += ["", f"## Placeholder metrics ({len(draft.placeholders)})", ""]
        lines += [
            f"- {name}: the runbook names no source; set `from:` and `value`/`query` "
            "(until then it has no data)"
            for name in draft.placeholders
        ]
    return "\n".join(lines) + "\n"


def summary(draft: Draft, output: str) -> dict[str, Any]:
    """What ``opsbook import --json`` prints: the counts, per class, and every unmapped line."""
    counts = count(draft)
    return {
        "source": draft.file,
        "output": output,
        "runbooks": list(draft.runbooks),
        "env": counts.env,
        "checks": counts.checks,
        "steps": {
            "run": counts.run_steps,
            "check": counts.check_steps,
            "gate": counts.gate_steps,
            "gate_items": counts.gate_items,
        },
        "params": counts.params,
        "classes": counts.classes,
        "operations": counts.operations,
        "monitoring": draft.monitoring,
        "placeholders": draft.placeholders,
        "unmapped": [
            {"line": u.line, "why": u.why, "text": u.what, "note": u.note} for u in draft.unmapped
        ],
    }


def _row(file: str, item: Unmapped) -> str:
    what = item.what.replace("\n", " ")
    return f"- {file}:{item.line}: {item.why}: {what}"
