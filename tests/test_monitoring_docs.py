"""docs/monitoring.md is executable: its opsbook.yaml is the project, the recorded day of logs
comes from tests/loggen.py, and every console example runs in order and must print what the
page shows. Slack is a Slack-compatible webhook on 127.0.0.1 (Apprise's mmost:// URL)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from conftest import run_cli
from loggen import write
from monitor_support import seed_rules_day
from notify_support import Receiver
from web_support import free_port

DOC = Path(__file__).resolve().parent.parent / "docs" / "monitoring.md"
YAML = re.compile(r"^```yaml\n(.*?)^```", re.DOTALL | re.MULTILINE)
CONSOLE = re.compile(r"^```console\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _lines(text: str) -> list[str]:
    out = [line.rstrip() for line in text.splitlines()]
    while out and not out[-1]:
        out.pop()
    return out


def test_the_monitoring_walkthrough_runs_as_shown(tmp_path: Path) -> None:
    text = DOC.read_text()
    (tmp_path / "opsbook.yaml").write_text(YAML.findall(text)[0])
    write(tmp_path / "logs" / "app.jsonl", seed_rules_day())
    first = (tmp_path / "logs" / "app.jsonl").read_text().splitlines()[0]
    assert first in text  # the log line the page shows is the recorded day's first
    slack = Receiver(free_port())
    slack.start()
    try:
        env = {"SLACK_URL": f"mmost://127.0.0.1:{slack.port}/abcdefghijklmnopqrstuvwxyz"}
        blocks = CONSOLE.findall(text)
        assert len(blocks) >= 5
        for block in blocks:
            command, _, expected = block.partition("\n")
            argv, _, code = command.removeprefix("$ ").partition("  # exit ")
            args = shlex.split(argv)
            assert args[0] == "opsbook"
            done = run_cli(*args[1:], cwd=tmp_path, env=env)
            assert done.returncode == int(code), (args, done.stdout, done.stderr)
            assert _lines(done.stdout + done.stderr) == _lines(expected), (args, done.stdout)
        messages = slack.received()
        assert len(messages) == 1
        assert b"[FIRING:1] alertname=high_error_rate" in messages[0]
        assert b"Error rate 0.1883 over 5 minutes" in messages[0]
    finally:
        slack.stop()
