"""Showing what `opsbook import` and `opsbook init` wrote."""

from __future__ import annotations

from pathlib import Path

from opsbook.console import counted, out, print_json
from opsbook.console.untrusted import escape
from opsbook.importer import ImportResult, MonitorImport, specfiles
from opsbook.importer.init import InitResult
from opsbook.importer.report import summary


def show_import(
    result: ImportResult, output: Path, report: Path | None, *, as_json: bool = False
) -> None:
    if as_json:
        print_json(summary(result.draft, str(output)))
        return
    counts = result.counts
    out.print(
        f"[green]✓[/green] wrote {escape(str(output))}: {counted(counts.runbooks, 'runbook')},"
        f" {counts.run_steps} run / {counts.check_steps} check / {counts.gate_steps} gate steps"
        f" ({counted(counts.gate_items, 'gate item')}), {counted(counts.checks, 'check')},"
        f" {counted(counts.env, 'variable')}, {counted(counts.params, 'param')}"
    )
    if counts.operations:
        kept = ", ".join(f"{k} {v}" for k, v in counts.operations.items())
        out.print(f"kept under x-operations: {escape(kept)}")
    if result.draft.monitoring:
        made = ", ".join(f"{k} {v}" for k, v in result.draft.monitoring.items())
        out.print(f"made from x-operations: {escape(made)} (check: opsbook monitor eval)")
    unmapped = len(result.draft.unmapped)
    where = f"listed in {escape(str(report))}" if report else "pass --report FILE to list them"
    out.print(f"{counted(unmapped, 'source line')} not mapped ({where})")
    classes = ", ".join(f"{k} {v}" for k, v in counts.classes.items() if v)
    if classes:
        out.print(f"commands: {escape(classes)}")
    for name, runbook in result.draft.runbooks.items():
        params = " ".join(f"-p {p}=…" for p in runbook.params)
        out.print(f"  opsbook plan {escape(name)} -e staging {escape(params)}".rstrip())


def show_monitor_import(
    result: MonitorImport, output: Path, report: Path | None, *, as_json: bool = False
) -> None:
    if as_json:
        print_json(specfiles.summary(result, str(output)))
        return
    words = {"metrics": ("metric", None), "alerts": ("alert", None), "slos": ("SLO", "SLOs")}
    counts = ", ".join(counted(v, *words[k]) for k, v in result.counts().items())
    what = result.draft.format.value
    article = "an" if what[:1] in "AEIOU" else "a"
    out.print(
        f"[green]✓[/green] wrote {escape(str(output))} from {article} {escape(what)}: {counts}"
    )
    notes = counted(len(result.draft.notes), "note")
    where = f"listed in {escape(str(report))}" if report else "pass --report FILE to list them"
    out.print(f"{notes} on what changed or was skipped ({where})")
    out.print(
        f"  set vars.{specfiles.URL_VAR} (now {escape(result.draft.url)}), then: "
        "opsbook monitor eval"
    )


def show_init(result: InitResult, target: Path) -> None:
    out.print(f"[green]✓[/green] wrote {escape(str(target))}")
    for line in result.detected:
        out.print(f"  detected {escape(line)}")
    out.print("  next: opsbook plan release -e staging")
