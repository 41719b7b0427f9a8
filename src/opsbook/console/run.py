"""Showing a run as it happens: plain lines (one per event), JSON lines, and asking at gates.

Rich loads only for a terminal: piped or JSON output is written as plain text.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opsbook.console import is_terminal, print_json_line
from opsbook.console.untrusted import colored, escape, escape_plain, plain, printable
from opsbook.engine.observe import RunEvent
from opsbook.engine.runner import Outcome
from opsbook.engine.states import EventType, RunStatus
from opsbook.steps.base import Decision

if TYPE_CHECKING:
    from rich.table import Table

_MARKS = {
    EventType.STEP_SUCCEEDED: "[green]✓[/green]",
    EventType.STEP_FAILED: "[red]✗[/red]",
    EventType.STEP_ATTEMPT_FAILED: "[yellow]↻[/yellow]",
    EventType.STEP_SKIPPED: "[dim]–[/dim]",
    EventType.GATE_WAITING: "[cyan]⏸[/cyan]",
    EventType.STEP_PAUSED: "[cyan]⏸[/cyan]",
    EventType.STEP_ROLLED_BACK: "[magenta]↶[/magenta]",
    EventType.STEP_ROLLBACK_FAILED: "[red]↶✗[/red]",
}


class Display:
    """Receives the executor's events (from several threads) and shows them."""

    def __init__(self, as_json: bool, interactive: bool) -> None:
        self.as_json = as_json
        self.interactive = interactive and not as_json and is_terminal()
        self.ask = self._ask if self.interactive else None
        self.plain = not sys.stdout.isatty()
        self.closed = False

    def observe(self, event: RunEvent) -> None:
        # A closed stdout (`| head`) must not kill the run it reports on: stop showing instead.
        if self.closed:
            return
        try:
            self._observe(event)
        except (BrokenPipeError, ValueError):
            self.closed = True

    def _observe(self, event: RunEvent) -> None:
        if self.as_json:
            print_json_line(event.to_dict())
            return
        line = self._line(event)
        if line is None:
            return
        stamp = time.strftime("%H:%M:%S", time.localtime(event.at))
        if event.type == EventType.STEP_OUTPUT and not self.plain:
            from rich.text import Text

            from opsbook.console import out

            prefix = Text(f"{stamp}   {event.step_id} │", style="dim")
            out.print(Text.assemble(prefix, " ", colored(str(event.data.get("line", "")))))
            return
        if self.plain:
            # Not a terminal: one plain line per event, without Rich's per-line rendering cost.
            sys.stdout.write(f"{stamp} {plain(line)}\n")
            sys.stdout.flush()
        else:
            from opsbook.console import out

            out.print(f"[dim]{stamp}[/dim] {line}")

    def _line(self, e: RunEvent) -> str | None:
        d = e.data
        esc = escape_plain if self.plain else escape
        sid = esc(e.step_id or "")
        if e.type in (EventType.RUN_STARTED, EventType.RUN_RESUMED):
            verb = "started" if e.type == EventType.RUN_STARTED else "resumed"
            return (
                f"run [bold]{e.run_id}[/bold] {verb}: {esc(str(d.get('runbook')))} on"
                f" {esc(str(d.get('environment')))} by {esc(str(d.get('operator')))}"
            )
        if e.type == EventType.STEP_STARTED:
            attempt = f" (attempt {d['attempt']})" if d.get("attempt", 1) > 1 else ""
            return f"▶ [bold]{sid}[/bold]{attempt}: {esc(str(d.get('action', '')))}"
        if e.type == EventType.STEP_OUTPUT:
            return f"  [dim]{sid} │[/dim] {esc(printable(str(d.get('line', ''))))}"
        if e.type in _MARKS:
            took = f" in {d['duration']:.2f}s" if "duration" in d else ""
            why = f": {esc(str(d['message']))}" if d.get("message") else ""
            if e.type == EventType.STEP_SKIPPED:
                why = f" (if: {esc(str(d.get('condition', '')))})"
            word = e.type.removeprefix("step_").replace("_", " ")
            if e.type == EventType.GATE_WAITING:
                word, took, why = "waiting for approval", "", ""
                if d.get("confirm"):
                    word = "waiting for a human to confirm: " + esc("; ".join(d["confirm"]))
            if e.type == EventType.STEP_FAILED and d.get("continue_on_error"):
                word += " (continue_on_error)"
            return f"{_MARKS[e.type]} {sid} {word}{took}{why}"
        if e.type == EventType.STEP_RETRY:
            return f"  {sid}: retrying in {d['delay']:.1f}s"
        if e.type == EventType.APPROVAL_REFUSED:
            return f"[bold red]refused[/bold red] {sid}: {esc(str(d.get('message', '')))}"
        if e.type == EventType.ROLLBACK_STARTED:
            return f"[magenta]rolling back[/magenta]: {esc(str(d.get('reason', '')))}"
        if e.type == EventType.ROLLBACK_STEP_STARTED:
            return f"↶ [bold]{sid}[/bold] rollback: {esc(str(d.get('action', '')))}"
        if e.type == EventType.ROLLBACK_STOPPED:
            return (
                f"[bold red]rollback stops at irreversible step {sid}[/bold red]; not rolled back:"
                f" {esc(', '.join(d.get('not_rolled_back', [])))}"
            )
        if e.type == EventType.STEP_INTERRUPTED:
            return f"↻ {sid} was interrupted; running it again ({esc(str(d.get('reason')))})"
        if e.type == EventType.RUN_FINISHED:
            status = str(d.get("status"))
            color = "green" if status == RunStatus.SUCCEEDED else "red"
            message = esc(str(d.get("message", "")))
            return f"run {e.run_id} [bold {color}]{status}[/bold {color}]: {message}"
        if e.type == EventType.RUN_INTERRUPTED:
            return f"run {e.run_id} [yellow]interrupted[/yellow]: {esc(str(d['message']))}"
        if e.type == EventType.RUN_PAUSED:
            return f"run {e.run_id} [cyan]paused[/cyan]: {esc(str(d.get('message', '')))}"
        if e.type == EventType.RUN_NEEDS_ATTENTION:
            return f"run {e.run_id} [yellow]needs attention[/yellow]: {esc(str(d['message']))}"
        if e.type == EventType.HEARTBEAT_FAILED:
            return (
                f"run {e.run_id} [yellow]could not renew its lease[/yellow] for"
                f" {d.get('failing', 0):.0f}s: {esc(str(d.get('message', '')))}"
            )
        if e.type == EventType.LEASE_LOST:
            return f"run {e.run_id} [red]lease lost[/red]: {esc(str(d.get('message', '')))}"
        if e.type == EventType.WORKER_TOOK:
            return f"worker took run {e.run_id} (owner {esc(str(d.get('owner')))})"
        if e.type in (EventType.WORKER_ERROR,):
            return f"{e.type.replace('_', ' ')} {e.run_id}: {esc(str(d))}"
        return None

    def _ask(self, step_id: str, items: list[str], evidence: dict[str, Any]) -> Decision:
        from rich.prompt import Prompt

        from opsbook.console import out
        from opsbook.engine.identity import operator

        what = "confirm before running" if evidence.get("confirm") else "gate"
        out.print(f"[bold cyan]{what} {escape(step_id)}[/bold cyan]")
        if evidence.get("outputs"):
            for sid, outputs in evidence["outputs"].items():
                shown = ", ".join(f"{k}={v}" for k, v in outputs.items())
                out.print(f"  [dim]{escape(sid)} outputs: {escape(shown)}[/dim]")
        # A stray Enter must not reject (and roll back) a release: it means "not yet", and the
        # run pauses (exit 3) until someone answers with `opsbook approve`.
        approved = True
        for item in items:
            answer = Prompt.ask(
                f"  ☐ {escape(item)} [dim]\\[y = done, n = reject, Enter = not yet][/dim]",
                console=out,
                choices=["y", "n", ""],
                default="",
                show_choices=False,
                show_default=False,
            )
            if answer == "":
                return Decision(None)
            if answer == "n":
                approved = False
                break
        note = Prompt.ask("  note (optional)", console=out, default="", show_default=False)
        return Decision(approved, operator(Path.cwd()), note)

    def outcome(self, outcome: Outcome) -> None:
        if self.as_json:
            return
        if outcome.status == RunStatus.ABORTING:
            from opsbook.console import info

            info(outcome.message)


class LiveDisplay(Display):
    """In a terminal: event lines scroll above a live table of steps (state, duration, tail)."""

    def __init__(self) -> None:
        from rich.live import Live

        from opsbook.console import out

        super().__init__(False, True)
        self.steps: dict[str, dict[str, Any]] = {}
        self.live = Live(console=out, refresh_per_second=8, transient=True)
        self.live.update(_Table(self))

    def _observe(self, event: RunEvent) -> None:
        sid = event.step_id
        if sid is not None:
            row = self.steps.setdefault(sid, {"state": "pending", "since": event.at, "tail": []})
            if event.type == EventType.STEP_OUTPUT:
                row["tail"] = [*row["tail"], str(event.data.get("line", ""))][-2:]
                return
            if event.type in (EventType.STEP_STARTED, EventType.ROLLBACK_STEP_STARTED):
                row.update(since=event.at, ended=None, tail=[])
            row["state"] = _STATES.get(event.type, row["state"])
            if event.type in _MARKS:
                row["ended"] = event.at
        line = self._line(event)
        if line is not None:
            stamp = time.strftime("%H:%M:%S", time.localtime(event.at))
            self.live.console.print(f"[dim]{stamp}[/dim] {line}")

    def _ask(self, step_id: str, items: list[str], evidence: dict[str, Any]) -> Decision:
        self.live.stop()  # prompts and a live region cannot share the screen
        try:
            return super()._ask(step_id, items, evidence)
        finally:
            self.live.start()


_STATES = {
    EventType.STEP_STARTED: "running",
    EventType.STEP_SUCCEEDED: "[green]succeeded[/green]",
    EventType.STEP_FAILED: "[red]failed[/red]",
    EventType.STEP_ATTEMPT_FAILED: "[yellow]retrying[/yellow]",
    EventType.STEP_SKIPPED: "[dim]skipped[/dim]",
    EventType.GATE_WAITING: "[cyan]waiting[/cyan]",
    EventType.STEP_PAUSED: "[cyan]paused[/cyan]",
    EventType.GATE_ASKING: "[cyan]asking[/cyan]",
    EventType.ROLLBACK_STEP_STARTED: "[magenta]rolling back[/magenta]",
    EventType.STEP_ROLLED_BACK: "[magenta]rolled back[/magenta]",
    EventType.STEP_ROLLBACK_FAILED: "[red]rollback failed[/red]",
}


class _Table:
    """Rendered on every refresh, so running steps' durations tick."""

    def __init__(self, display: LiveDisplay) -> None:
        self.display = display

    def __rich__(self) -> Table:
        from rich.table import Table

        table = Table(box=None, show_header=False, pad_edge=False)
        for column in ("step", "state", "time", "output"):
            table.add_column(column, overflow="ellipsis", no_wrap=True)
        now = time.time()
        for sid, row in self.display.steps.items():
            took = (row.get("ended") or now) - row["since"]
            tail = escape(printable(row["tail"][-1])) if row["tail"] else ""
            table.add_row(escape(sid), row["state"], f"{took:5.1f}s", f"[dim]{tail}[/dim]")
        return table


@contextmanager
def display_for(as_json: bool, *, interactive: bool = True) -> Iterator[Display]:
    """A display for a run command: JSON lines with --json; in a terminal a live table with
    the event lines above it; otherwise one plain line per event."""
    if as_json or not interactive or not is_terminal():
        yield Display(as_json, interactive)
        return
    live = LiveDisplay()
    with live.live:
        yield live


def show_decision(decision: dict[str, Any]) -> None:
    run = decision["run"]
    what = "step" if decision.get("confirm") else "gate"
    verb = decision["decision"]
    if decision.get("confirm"):
        verb = (
            ("confirmed" if verb == "approved" else "rejected")
            + " ("
            + "; ".join(decision["confirm"])
            + ")"
        )
    from opsbook.console import out

    out.print(
        f"{what} {escape(decision['step'])} of run {run} {escape(verb)} by"
        f" {escape(decision['operator'])}; continue with `opsbook resume {run}`"
        " (or a running `opsbook worker` picks it up)"
    )


__all__ = ["Display", "display_for", "show_decision"]
