"""docs/db.md is real: its console examples run in order against a fresh PostgreSQL database."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO
from db_support import DB_FIXTURES, make_project

DOC = REPO / "docs" / "db.md"
CONSOLE = re.compile(r"^```console\n(.*?)^```", re.DOTALL | re.MULTILINE)
NORMALISE = [
    (re.compile(r"\(\d+ ms\)"), "(N ms)"),
    (re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"), "DATE"),
    (re.compile(r"\d{8}T\d{12}Z"), "STAMP"),
    (re.compile(r"opsbook_test_[0-9a-f]+-"), "app-"),
]


def _normalise(text: str, root: Path | None = None) -> list[str]:
    if root is not None:
        text = text.replace(str(root), "/srv/shop")
    for pattern, replacement in NORMALISE:
        text = pattern.sub(replacement, text)
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def test_every_db_command_is_documented() -> None:
    text = DOC.read_text()
    for command in ("status", "lint", "migrate", "rls", "restore"):
        assert f"`opsbook db {command}" in text


@pytest.mark.slow
@pytest.mark.postgres
def test_console_examples_run_in_order(tmp_path: Path, fresh_pg_url: str) -> None:
    root = make_project(tmp_path / "shop", fresh_pg_url, DB_FIXTURES / "seed004")
    shutil.copytree(DB_FIXTURES / "lint", root / "lint")
    env = {
        **os.environ,
        "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"],
        "NO_COLOR": "1",
        "COLUMNS": "120",
        "OPSBOOK_OPERATOR": "ada",
    }
    blocks = CONSOLE.findall(DOC.read_text())
    assert len(blocks) >= 5
    for block in blocks:
        command, _, expected = block.partition("\n")
        assert command.startswith("$ opsbook db ")
        done = subprocess.run(
            command[2:],
            shell=True,
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=120,
        )
        assert _normalise(done.stdout, root) == _normalise(expected), (
            f"`{command}` printed:\n{done.stdout}"
        )
