"""Showing check reports: a table of variables where there is one, the findings, a summary.

Reports hold no values, only names, statuses, lengths and keyed fingerprints, so nothing here
can print a secret; the tests plant secrets and grep every output for them.
"""

from __future__ import annotations

from rich import box

from opsbook.checks.contract import EnvReport
from opsbook.checks.dotenv_example import DotenvExampleReport
from opsbook.checks.envdiff import EnvDiffReport
from opsbook.checks.findings import Finding, Report
from opsbook.checks.secrets import SecretsReport
from opsbook.checks.suite import AllReport
from opsbook.console import Table, counted, out
from opsbook.console.untrusted import escape

STYLE = {"error": "red", "warning": "yellow", "info": "dim"}


def show_report(report: Report) -> None:
    """Print one report (or, for ``check all``, each of its reports) for a person."""
    if isinstance(report, AllReport):
        for part in report.reports:
            show_report(part)
            out.print()
        _summary("all", report, f"environment {report.environment}")
        return
    if isinstance(report, EnvReport):
        _env(report)
    elif isinstance(report, EnvDiffReport):
        _diff(report)
    elif isinstance(report, DotenvExampleReport):
        out.print(f"check dotenv-example: env contract ↔ {escape(report.file)}")
    elif isinstance(report, SecretsReport):
        _secrets(report)
    _findings(report.findings)
    _summary(report.check, report)


def _table(*columns: str) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for column in columns:
        table.add_column(column)
    return table


def _env(report: EnvReport) -> None:
    source = report.env_file or "no env_file"
    if report.env_file and not report.env_file_found:
        source += ", missing"
    out.print(f"check env: environment {escape(report.environment)} ({escape(source)})")
    table = _table("variable", "status", "source", "secret")
    for var in report.variables:
        kind = ""
        if var.secret:
            kind = "secret"
            if var.length is not None:
                kind += f", {var.length} chars, fp {var.fingerprint}"
        table.add_row(var.name, _status(var.status), var.source or "", kind)
    out.print(table)


def _status(status: str) -> str:
    color = {"missing": "red", "invalid": "red", "undeclared": "yellow"}.get(status)
    return f"[{color}]{status}[/{color}]" if color else status


def _diff(report: EnvDiffReport) -> None:
    out.print(f"check env-diff: {escape(report.a)} ↔ {escape(report.b)} (compared by keyed hash)")
    table = _table("variable", "comparison", "secret", f"fp {report.a}", f"fp {report.b}")
    label = {
        "only_a": f"only in {report.a}",
        "only_b": f"only in {report.b}",
        "different": "different",
        "identical": "identical",
    }
    for row in report.rows:
        table.add_row(
            row.name,
            escape(label[row.category]),
            "secret" if row.secret else "",
            row.a or "",
            row.b or "",
        )
    out.print(table)


def _secrets(report: SecretsReport) -> None:
    how = {"git": "git ls-files", "gitignore": "walk honouring .gitignore", "file": "one file"}
    out.print(
        f"check secrets: {report.files_scanned} files under {escape(report.root)}"
        f" ({how.get(report.listing, report.listing)})"
    )
    if report.baseline_written:
        out.print(f"baseline {escape(report.baseline)} written: {report.accepted} accepted")
    elif report.accepted:
        out.print(f"baseline {escape(report.baseline)}: {report.accepted} accepted")


def _findings(findings: list[Finding]) -> None:
    for finding in findings:
        color = STYLE[finding.severity]
        where = f"{finding.where}: " if finding.where else ""
        out.print(
            f"[{color}]{finding.severity:<7}[/{color}] {finding.code}: "
            f"{escape(where + finding.message)}"
        )


def _summary(check: str, report: Report, subject: str = "") -> None:
    counts = report.counts()
    errors, warnings = counted(counts["error"], "error"), counted(counts["warning"], "warning")
    text = f"{errors}, {warnings}, {counts['info']} info"
    about = f" ({escape(subject)})" if subject else ""
    if report.ok:
        out.print(f"[green]✓[/green] check {check} passed{about}: {text}")
    else:
        out.print(f"[red]✗[/red] check {check} failed{about}: {text}")
