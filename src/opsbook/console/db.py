"""Showing ``opsbook db ...`` results: status, lint findings, migrations applied, RLS findings."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from opsbook.console import err, out
from opsbook.console.untrusted import escape
from opsbook.db.lint import LintReport
from opsbook.db.migrate import MigrateResult
from opsbook.db.rls import RlsReport
from opsbook.db.status import Status


def progress(line: str) -> None:
    """One line of progress while a migration runs (stderr, so --json stdout stays clean)."""
    err.print(f"[dim]{escape(line)}[/dim]")


def _problem_line(severity: str, code: str, message: str) -> str:
    colour = "yellow" if severity == "warning" else "red"
    return f"[{colour}]{severity}[/{colour}] {escape(code)}: {escape(message)}"


def show_status(status: Status) -> None:
    sources = ", ".join(status.sources) or "none yet"
    out.print(
        f"migrations in [bold]{escape(status.folder)}[/bold] ({status.naming} naming); "
        f"history: {escape(sources)}"
    )
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for column in ("migration", "state", "applied at", "by", "source"):
        table.add_column(column, overflow="fold")
    for m in status.migrations:
        state = "[green]applied[/green]" if m.state == "applied" else "[yellow]pending[/yellow]"
        if m.drift:
            state += " [red](edited since)[/red]"
        when = f"{m.applied_at:%Y-%m-%d %H:%M:%S}" if m.applied_at else ""
        table.add_row(escape(m.filename), state, when, escape(m.operator or ""), m.source or "")
    out.print(table)
    for p in status.problems:
        out.print(_problem_line(p.severity, p.code, p.message))
    out.print(f"{len(status.applied)} applied, {len(status.pending)} pending")


def show_lint(report: LintReport) -> None:
    for fl in report.files:
        mark = (
            "[red]irreversible[/red]"
            if fl.classification == "irreversible"
            else "[green]backward-compatible[/green]"
        )
        out.print(f"{escape(fl.file)}: {mark}")
        for f in fl.findings:
            origin = "" if f.source == "opsbook" else f" ({f.source})"
            out.print(f"  {escape(f.where or '')}: {escape(f.code)}{origin}: {escape(f.message)}")
            if f.statement:
                out.print(f"    [dim]{escape(f.statement)}[/dim]")
    squawk = f"squawk {report.squawk}" if report.squawk else "squawk not installed"
    out.print(f"{len(report.files)} files, {len(report.findings)} findings ({squawk})")


def _shown(path: str) -> str:
    """A path relative to the working directory when inside it (shorter, same file)."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path


def show_migrate(result: MigrateResult) -> None:
    """The summary after the per-file progress lines (which :func:`progress` printed live)."""
    for warning in result.warnings:
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}")
    if result.irreversible:
        out.print("[bold red]irreversible:[/bold red] " + escape(", ".join(result.irreversible)))
    for name in result.skipped:
        out.print(f"[yellow]not tried by the dry run:[/yellow] {escape(name)}")
    if not result.pending:
        out.print("up to date: nothing to apply")
        return
    if result.dry_run:
        out.print(
            f"{len(result.applied)} of {len(result.pending)} pending would apply (rolled back)"
        )
        return
    outside = [a.filename for a in result.applied if not a.transactional]
    note = f" ({len(outside)} outside a transaction)" if outside else ""
    out.print(f"{len(result.applied)} of {len(result.pending)} pending applied{note}")
    if result.snapshot:
        out.print(f"snapshot: {escape(_shown(result.snapshot))}")


def show_rls(report: RlsReport) -> None:
    for f in report.findings:
        table = getattr(f, "table", "")
        out.print(f"[red]{escape(f.code)}[/red] {escape(table)}: {escape(f.message)}")
    schemas = ", ".join(report.schemas)
    out.print(f"{report.tables} tables in {escape(schemas)}, {len(report.findings)} findings")
