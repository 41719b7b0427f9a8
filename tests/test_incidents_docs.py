"""docs/incidents.md is executable: its opsbook.yaml is the project, and every console example
runs in order in a fresh project; the output must equal what the page shows, line for line.

Only what a real clock decides is normalised: run ids and clock times of real runs, and, in the
blocks marked ``real time``, the local times they print. Everything given ``--now`` is exact.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from engine_support import cli, project

DOC = Path(__file__).resolve().parent.parent / "docs" / "incidents.md"
YAML = re.compile(r"^```yaml\n(.*?)^```", re.DOTALL | re.MULTILINE)
CONSOLE = re.compile(r"^```console\n(.*?)^```", re.DOTALL | re.MULTILINE)
ALWAYS = [
    (re.compile(r"\b\d{8}-\d{6}-[0-9a-f]{6}\b"), "RUN"),
    (re.compile(r"\b\d\d:\d\d:\d\d\b"), "TIME"),
    (re.compile(r"\b\d+\.\d\ds\b"), "DUR"),
]
REAL_TIME = [(re.compile(r"\b[A-Z][a-z]{2} \d{4}-\d\d-\d\d \d\d:\d\d [A-Z]+\b"), "WHEN")]


def _norm(text: str, real_time: bool) -> list[str]:
    for pattern, token in ALWAYS + (REAL_TIME if real_time else []):
        text = pattern.sub(token, text)
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def examples() -> list[tuple[list[str], int, bool, str]]:
    found = []
    for block in CONSOLE.findall(DOC.read_text()):
        first, _, output = block.partition("\n")
        command, _, tail = first.removeprefix("$ ").partition("  # exit ")
        code, _, mark = tail.partition(", ")
        found.append((shlex.split(command), int(code), mark == "real time", output))
    return found


def test_the_incidents_doc_runs_as_shown(tmp_path: Path) -> None:
    spec = YAML.findall(DOC.read_text())[0]
    root = project(tmp_path, spec)
    url = f"sqlite:///{tmp_path / 'state.db'}"
    shown = examples()
    assert len(shown) >= 15
    for argv, code, real_time, expected in shown:
        assert argv[0] == "opsbook"
        done = cli(root, url, *argv[1:], OPSBOOK_OPERATOR="ana", COLUMNS="200")
        assert done.returncode == code, (argv, done.stdout, done.stderr)
        actual = _norm(done.stdout + done.stderr, real_time)
        assert actual == _norm(expected, real_time), (argv, "\n".join(actual))
    draft = root / "docs" / "incidents" / "2026-11-27-checkout-returns-502.md"
    assert "## Follow-ups" in draft.read_text()
