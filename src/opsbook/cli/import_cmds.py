"""``opsbook import RUNBOOK.md`` and ``opsbook init [DIR]``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from opsbook.cli.app import app
from opsbook.cli.options import Json

Force = Annotated[bool, typer.Option("--force", help="Overwrite an existing output file.")]


@app.command("import")
def import_runbook(
    runbook: Annotated[
        Path,
        typer.Argument(
            help="A Markdown runbook, Sloth spec, OpenSLO file or Prometheus rules file."
        ),
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the opsbook.yaml.")
    ] = Path("opsbook.yaml"),
    report: Annotated[
        Path | None,
        typer.Option("--report", help="Also write the import report (Markdown) here."),
    ] = None,
    force: Force = False,
    json: Json = False,
) -> None:
    """Turn a runbook (or SLO/alert rules file) into a validated opsbook.yaml; what maps to
    nothing is reported."""
    from opsbook.console.importer import show_import, show_monitor_import
    from opsbook.importer import MonitorImport, import_file, write_outputs

    result = import_file(runbook, output.name)
    targets = [(output, result.text)] + ([(report, result.report)] if report else [])
    write_outputs(targets, force=force)
    if isinstance(result, MonitorImport):
        show_monitor_import(result, output, report, as_json=json)
    else:
        show_import(result, output, report, as_json=json)


@app.command()
def init(
    directory: Annotated[
        Path, typer.Argument(help="The project directory (default: here).")
    ] = Path("."),
    force: Force = False,
) -> None:
    """Write a starter opsbook.yaml detected from package.json, migrations, .env.example, ..."""
    from opsbook.console.importer import show_init
    from opsbook.importer import write_outputs
    from opsbook.importer.init import init_project

    result = init_project(directory)
    target = directory / "opsbook.yaml"
    write_outputs([(target, result.text)], force=force, hint="pass --force to overwrite it")
    show_init(result, target)
