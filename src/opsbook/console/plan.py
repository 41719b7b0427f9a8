"""Showing a plan."""

from __future__ import annotations

from rich.table import Table

from opsbook.console import out, warn
from opsbook.console.untrusted import escape
from opsbook.plan import Plan
from opsbook.spec.durations import format_duration


def show_plan(plan: Plan) -> None:
    protected = " [bold red](protected)[/bold red]" if plan.protected else ""
    out.print(
        f"[bold]{escape(plan.project)}[/bold] · runbook [bold]{escape(plan.runbook)}[/bold]"
        f" · environment [bold]{escape(plan.environment)}[/bold]{protected}"
    )
    if plan.description:
        out.print(escape(plan.description))
    if plan.params:
        out.print("params: " + ", ".join(f"{k}={escape(v)}" for k, v in plan.params.items()))
    for message in plan.warnings:
        warn(message)
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for column in ("wave", "step", "kind", "action", "marks"):
        table.add_column(column, overflow="fold")
    for step in plan.steps:
        marks = []
        if step.changes_things:
            marks.append("changes")
        if step.irreversible:
            marks.append("[bold red]IRREVERSIBLE[/bold red]")
        if step.rollback:
            marks.append("rollback: " + escape(step.rollback))
        elif step.changes_things and not step.irreversible:
            marks.append("[yellow]no rollback[/yellow]")
        if step.kind == "gate":
            marks.append("[cyan]human gate[/cyan]")
        if step.confirm:
            marks.append("[cyan]human confirms[/cyan]")
        if step.will_run is False:
            marks.append(f"skipped (if: {escape(step.condition or '')})")
        elif step.will_run is None:
            marks.append(f"if: {escape(step.condition or '')} (decided at run time)")
        if step.timeout:
            marks.append(f"timeout {format_duration(step.timeout)}")
        if step.retry_attempts > 1:
            marks.append(f"retry ×{step.retry_attempts}")
        if step.continue_on_error:
            marks.append("continue on error")
        action = escape(step.action)
        if step.gate and len(step.gate) > 1:
            action = "\n".join(f"☐ {escape(item)}" for item in step.gate)
        table.add_row(str(step.wave), escape(step.id), step.kind, action, ", ".join(marks))
    out.print(table)
    if plan.irreversible_point:
        out.print(
            f"[bold red]point of no return:[/bold red] {escape(plan.irreversible_point)}"
            " — a failure after it is not rolled back past it"
        )
    answers = []
    if plan.gates:
        answers.append("gates a human must answer: " + ", ".join(plan.gates))
    if plan.confirmations:
        answers.append("confirm before running: " + ", ".join(plan.confirmations))
    if answers:
        out.print(escape("; ".join(answers)))
    lock = "holds the environment while it runs" if plan.locks_environment else "read-only"
    out.print(f"{len(plan.steps)} steps in {len(plan.waves)} waves; {lock}")
