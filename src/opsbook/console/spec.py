"""Showing validation results."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape

from opsbook.console import err, out
from opsbook.errors import SpecError
from opsbook.spec.loader import LoadedSpec


def show_valid(loaded: LoadedSpec) -> None:
    spec = loaded.spec
    steps = sum(len(r.steps) for r in spec.runbooks.values())
    out.print(
        f"[green]✓[/green] {escape(_shown(loaded.path))} is valid: {len(spec.runbooks)} runbooks,"
        f" {steps} steps, {len(spec.checks)} checks, {len(spec.env)} variables,"
        f" {len(spec.environments)} environments"
    )


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def show_problems(error: SpecError) -> None:
    for problem in error.problems:
        err.print(escape(str(problem)))
    if not error.problems:
        err.print(escape(str(error)))
