"""Showing validation results."""

from __future__ import annotations

from pathlib import Path

from opsbook.console import counted, escape_text, line
from opsbook.console import error as _error
from opsbook.errors import SpecError
from opsbook.spec.loader import LoadedSpec


def show_valid(loaded: LoadedSpec) -> None:
    spec = loaded.spec
    steps = sum(len(r.steps) for r in spec.runbooks.values())
    counts = (
        counted(len(spec.runbooks), "runbook"),
        counted(steps, "step"),
        counted(len(spec.checks), "check"),
        counted(len(spec.env), "variable"),
        counted(len(spec.environments), "environment"),
    )
    text = f"{_shown(loaded.path)} is valid: {', '.join(counts)}"
    line(f"[green]✓[/green] {escape_text(text)}", f"✓ {text}")


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def show_problems(problems_error: SpecError) -> None:
    for problem in problems_error.problems:
        _error(str(problem))
    if not problems_error.problems:
        _error(str(problems_error))
