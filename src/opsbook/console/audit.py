"""Showing runs, one run, the release log and the chain check."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.table import Table

from opsbook.console import err, out
from opsbook.console.untrusted import colored, escape
from opsbook.engine.states import RunStatus
from opsbook.spec.durations import format_duration
from opsbook.store.audit import Release, RunSummary
from opsbook.store.events import ChainReport

STATUS_STYLE: dict[str, str] = {
    RunStatus.SUCCEEDED: "green",
    RunStatus.FAILED: "red",
    RunStatus.ROLLED_BACK: "yellow",
    RunStatus.ABORTED: "yellow",
    RunStatus.NEEDS_ATTENTION: "bold red",
    RunStatus.WAITING: "cyan",
    RunStatus.RUNNING: "blue",
    RunStatus.ABORTING: "magenta",
    RunStatus.ROLLING_BACK: "magenta",
}


def when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def status(text: str) -> str:
    style = STATUS_STYLE.get(text)
    return f"[{style}]{escape(text)}[/{style}]" if style else escape(text)


def _duration(row: RunSummary, now: float | None = None) -> str:
    if row.started_at is not None and row.finished_at is None:
        return f"{format_duration((now or time.time()) - row.started_at)} so far"
    return format_duration(row.duration) if row.duration is not None else "-"


def _run_status(row: RunSummary, now: float | None = None) -> str:
    """The status, and for a run marked running whose executor is gone, how to continue it."""
    shown = status(row.status)
    expired = row.lease_expires_at is None or row.lease_expires_at < (now or time.time())
    if row.status == "running" and (row.lease_owner is None or expired):
        shown += f" [yellow](no executor: opsbook resume {row.id})[/yellow]"
    return shown


def _table(*columns: str) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in columns:
        # ids and times are read whole or not at all
        fixed = column in ("run", "date", "started", "step", "git", "outcome", "status")
        table.add_column(column, overflow="fold", no_wrap=fixed)
    return table


def show_runs(rows: list[RunSummary]) -> None:
    if not rows:
        out.print("no runs yet; start one with `opsbook run RUNBOOK --env ENV`")
        return
    table = _table("run", "started", "runbook", "env", "status", "operator", "duration")
    for r in rows:
        table.add_row(
            r.id,
            when(r.created_at),
            escape(r.runbook),
            escape(r.environment),
            _run_status(r),
            escape(r.operator),
            _duration(r),
        )
    out.print(table)


def show_releases(rows: list[Release]) -> None:
    if not rows:
        out.print("no releases yet")
        return
    table = _table(
        "date", "runbook", "env", "params", "git", "operator", "approvals", "outcome", "duration"
    )
    for r in rows:
        approvals = ", ".join(
            f"{a['step_id']}: {answered(a)} by {a['operator']}" for a in r.approvals
        )
        table.add_row(
            when(r.created_at),
            escape(r.runbook),
            escape(r.environment),
            escape(" ".join(f"{k}={v}" for k, v in r.params.items())),
            (r.git_sha or "-")[:10],
            escape(r.operator),
            escape(approvals or "-"),
            status(r.status),
            _duration(r),
        )
    out.print(table)


def show_detail(detail: dict[str, Any]) -> None:
    run = detail["run"]
    out.print(
        f"[bold]run {escape(run['id'])}[/bold] · {escape(run['runbook'])} on"
        f" {escape(run['environment'])} · {status(run['status'])}"
    )
    out.print(
        f"operator {escape(run['operator'])} · git {run['git_sha'] or '-'} · started"
        f" {when(run['started_at'])} · finished {when(run['finished_at'])}"
    )
    if run["params"]:
        out.print("params: " + escape(" ".join(f"{k}={v}" for k, v in run["params"].items())))
    if run.get("error"):
        out.print(f"[red]error:[/red] {escape(run['error'])}")
    table = _table("step", "status", "attempts", "outputs")
    for s in detail["steps"]:
        outputs = ", ".join(f"{k}={v}" for k, v in (s.get("outputs") or {}).items())
        table.add_row(
            escape(s["step_id"]), status(s["status"]), str(s["attempts"]), escape(outputs)
        )
    out.print(table)
    for a in detail["approvals"]:
        note = f" — {a['note']}" if a.get("note") else ""
        evidence = a.get("evidence") or {}
        what, decision = "approval", answered(a)
        if isinstance(evidence, dict) and evidence.get("confirm"):
            what = "confirmation"
            decision = (
                ("confirmed" if decision == "approved" else decision)
                + " ("
                + "; ".join(evidence.get("items") or [])
                + ")"
            )
        out.print(
            f"{what}: {escape(a['step_id'])} {escape(decision)} by {escape(a['operator'])}"
            f" at {when(a['created_at'])}{escape(note)}"
        )
    for attempt in detail["attempts"]:
        if attempt.get("output"):
            out.print(
                f"[bold]── {escape(attempt['step_id'])} ({attempt['phase']} #{attempt['attempt']},"
                f" {attempt['status']})[/bold]"
            )
            out.print(colored(attempt["output"].rstrip()))
    out.print(f"{len(detail['events'])} events")


def show_chain(report: ChainReport) -> None:
    if report.ok:
        out.print(
            f"[green]✓[/green] event log intact: {report.checked} events, hash chain verified,"
            " every run, approval and attempt matches its events"
        )
        return
    for problem in report.problems:
        err.print(f"[red]tampered:[/red] {escape(problem)}")


def dumps(value: Any) -> str:
    return json.dumps(value, default=str)


def show_anchor(path: Path, seq: int, digest: str) -> None:
    out.print(f"anchored event {seq} ({digest[:12]}…) in {escape(str(path))}")


def answered(approval: dict[str, Any]) -> str:
    """How a gate was answered: --yes auto-approvals and signed answers say so."""
    via = approval.get("via")
    if via == "yes":
        return "auto-approved (--yes)"
    return str(approval["decision"]) + (" (signed)" if via == "ssh" else "")
