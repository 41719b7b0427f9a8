"""Console examples in docs/commands.md are real: each `$ command` is run and its output compared.

Illustrative output that depends on time or state is written in ```text blocks instead, and
covered by the command's own tests.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CONSOLE = re.compile(r"^```console\n(.*?)^```", re.DOTALL | re.MULTILINE)
TESTED_DOCS = [REPO / "docs" / "commands.md"]


def blocks() -> list[tuple[str, str, str]]:
    found = []
    for doc in TESTED_DOCS:
        text = doc.read_text()
        for match in CONSOLE.finditer(text):
            body = match.group(1)
            line = text[: match.start()].count("\n") + 1
            command, _, output = body.partition("\n")
            assert command.startswith("$ "), f"{doc.name}:{line}: a console block starts with $"
            found.append((f"{doc.name}:{line}", command[2:], output))
    return found


BLOCKS = blocks()


def normalise(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


@pytest.mark.parametrize(("where", "command", "expected"), BLOCKS, ids=[b[0] for b in BLOCKS])
def test_console_example(where: str, command: str, expected: str) -> None:
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": bin_dir + os.pathsep + os.environ["PATH"],
        "NO_COLOR": "1",
        "COLUMNS": "120",
        "TERM": "dumb",
    }
    result = subprocess.run(
        command, shell=True, cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    actual = result.stdout + result.stderr
    assert normalise(actual) == normalise(expected), f"{where}: `{command}` printed:\n{actual}"
