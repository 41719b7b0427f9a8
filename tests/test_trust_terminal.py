"""What a step prints cannot drive the terminal that shows it, live or in `opsbook show`: no
cursor moves over opsbook's own lines, no window title, no clipboard write (OSC 52). Plain output
(a pipe, a CI log) drops every escape sequence and control character; a terminal keeps a step's
colors only."""

from __future__ import annotations

import os
from pathlib import Path

from rich.console import Console

from conftest import run_cli
from engine_support import FAST, on_pty
from opsbook.console.untrusted import colored, printable

HOSTILE = (
    r"printf '\101\102\103 title \033]0;owned\007|up \033[1A\033[2Kfake ok|"
    r"clip \033]52;c;ZXZpbA==\007|c1 \302\23331m|bell \007|cr x\rback|"
    r"\033[31mred\033[0m|tab\there\n'"
)
RUNBOOK = f"""\
version: 1
project: t
environments: {{local: {{}}}}
runbooks:
  r:
    steps:
      - id: noisy
        run: {HOSTILE}; sleep 1
"""


def test_plain_output_has_no_escape_sequence_or_control_character(tmp_path: Path) -> None:
    (tmp_path / "opsbook.yaml").write_text(RUNBOOK)
    done = run_cli("run", "r", "-e", "local", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    shown = next(line for line in done.stdout.splitlines() if "noisy │" in line)
    assert shown.endswith(
        "noisy │ ABC title |up fake ok|clip |c1 31m|bell |cr xback|red|tab\there"
    ), repr(shown)
    assert not any(c in done.stdout for c in "\x1b\x07\r\x9b")
    shown = run_cli("show", "last", cwd=tmp_path).stdout  # the stored log, shown again
    assert "ABC title |up fake ok|clip |c1 31m|bell |cr xback|red|tab" in shown, shown
    assert not any(c in shown for c in "\x1b\x07\r\x9b")


def test_a_terminal_keeps_a_steps_colors_and_nothing_else() -> None:
    line = "\x1b]0;owned\x07\x1b[1A\x1b[31mred\x1b[0m \x1b]52;c;ZXZpbA==\x07\x9b2J\x07done"
    assert colored(line).plain == "red 2Jdone"
    assert printable(line) == "red 2Jdone"
    console = Console(force_terminal=True, color_system="standard", width=100)
    with console.capture() as captured:
        console.print(colored(line))
    drawn = captured.get()
    assert "\x1b[31mred" in drawn  # the step's color, drawn by Rich
    assert not any(s in drawn for s in ("\x1b]", "\x1b[1A", "\x9b", "\x07"))


def test_the_live_table_shows_a_steps_last_line_without_its_sequences(tmp_path: Path) -> None:
    """On a real pty, where `opsbook run` draws its live table of steps and their last line."""
    (tmp_path / "opsbook.yaml").write_text(RUNBOOK)
    env = {**os.environ, **FAST, "TERM": "xterm-256color", "COLUMNS": "200"}
    env.pop("NO_COLOR", None)
    # fresh: Rich looks for a terminal as its console is made, not in this process
    code, screen = on_pty(["run", "r", "--env", "local"], cwd=tmp_path, env=env, fresh=True)
    assert code == 0, screen
    assert "ABC title" in screen  # the tail was drawn (the command's text says \101\102\103)
    for sequence in ("\x1b]0;", "\x1b]52;", "\x9b", "\x07"):
        assert sequence not in screen, sequence


def test_what_others_typed_is_shown_without_its_sequences(tmp_path: Path) -> None:
    """An alert's labels and annotations come from whoever posts to the intake; `opsbook
    alerts` shows them, in a table, with the console's escape() that every value goes through."""
    from datetime import UTC, datetime

    from opsbook.notify.intake import receive_alerts
    from opsbook.spec.loader import load_spec
    from opsbook.store import open_store

    (tmp_path / "opsbook.yaml").write_text("version: 1\nproject: p\n")
    store = open_store(root=tmp_path)
    try:
        hostile = "db \x1b]0;owned\x07down \x1b[2J\x9b1A[bold]now[/bold]"
        alert = {"labels": {"alertname": "DbDown", "where": hostile}, "annotations": {}}
        alert["annotations"]["summary"] = hostile
        now = datetime(2026, 12, 1, 9, tzinfo=UTC)
        assert receive_alerts(store, load_spec(tmp_path / "opsbook.yaml"), [alert], now) == 1
    finally:
        store.close()
    shown = run_cli("alerts", cwd=tmp_path, env={"COLUMNS": "300"})
    assert shown.returncode in (0, 1), shown.stdout + shown.stderr
    assert "db down 1A[bold]now[/bold]" in shown.stdout, shown.stdout
    assert not any(c in shown.stdout for c in "\x1b\x07\x9b")


def test_plain_output_shows_markup_and_backslashes_as_typed(tmp_path: Path) -> None:
    """Piped output is drawn without Rich: a command and its output that look like Rich markup
    (tags, escaped brackets, a trailing backslash) are printed exactly as they are."""
    (tmp_path / "opsbook.yaml").write_text(
        "version: 1\nproject: t\nenvironments: {local: {}}\nrunbooks:\n  r:\n    steps:\n"
        "      - id: tags\n"
        "        run: printf '%s\\n' '[bold]x[/bold] \\[red] a\\' '[/] end'\n"
    )
    done = run_cli("run", "r", "-e", "local", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert any(
        line.endswith("▶ tags: printf '%s\\n' '[bold]x[/bold] \\[red] a\\' '[/] end'")
        for line in lines
    ), done.stdout
    assert any(line.endswith("tags │ [bold]x[/bold] \\[red] a\\") for line in lines), lines
    assert any(line.endswith("tags │ [/] end") for line in lines), lines
