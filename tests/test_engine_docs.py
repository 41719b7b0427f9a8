"""docs/run.md is executable: its opsbook.yaml is the project, and every console example is run
in order; exit codes must match and every shown line must appear in the real output (times, run
ids and durations normalised)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from engine_support import cli, project

DOC = Path(__file__).resolve().parent.parent / "docs" / "run.md"
YAML = re.compile(r"^```yaml\n(.*?)^```", re.DOTALL | re.MULTILINE)
CONSOLE = re.compile(r"^```console\n(.*?)^```", re.DOTALL | re.MULTILINE)
VOLATILE = [
    (re.compile(r"\b\d{8}-\d{6}-[0-9a-f]{6}\b"), "RUN"),
    (re.compile(r"\b\d\d:\d\d:\d\d\b"), "TIME"),
    (re.compile(r"\b\d+\.\d\ds\b"), "DUR"),
    (re.compile(r"\b\d{4}-\d\d-\d\d\b"), "DATE"),
]


def _norm(text: str) -> str:
    for pattern, token in VOLATILE:
        text = pattern.sub(token, text)
    return text


def examples() -> list[tuple[list[str], int, list[str]]]:
    found = []
    for block in CONSOLE.findall(DOC.read_text()):
        lines = block.splitlines()
        command, _, code = lines[0].removeprefix("$ ").partition("  # exit ")
        found.append((shlex.split(command), int(code), lines[1:]))
    return found


def test_the_run_doc_examples_run_as_shown(tmp_path: Path) -> None:
    spec = YAML.findall(DOC.read_text())[0]
    root = project(tmp_path, spec, "API_TOKEN=tok_live_5f2a9c\n")
    url = f"sqlite:///{tmp_path / 'state.db'}"
    shown = examples()
    assert len(shown) >= 4
    for argv, code, lines in shown:
        assert argv[0] == "opsbook"
        done = cli(root, url, *argv[1:], OPSBOOK_OPERATOR="ana")
        assert done.returncode == code, (argv, done.stdout, done.stderr)
        actual = _norm(done.stdout + done.stderr)
        for line in lines:
            if line != "...":
                assert _norm(line) in actual, (argv, line, actual)
    assert "tok_live_5f2a9c" in (root / "state.txt").read_text()  # the step got the secret
