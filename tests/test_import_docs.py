"""docs/import.md is executable: its input files are written, its console sessions are run
(real `opsbook` subprocesses), and the files they write must equal the ones the page shows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from conftest import REPO, run_cli

DOC = REPO / "docs" / "import.md"


@dataclass
class Fence:
    info: dict[str, str]
    kind: str
    content: str


def fences() -> list[Fence]:
    found = []
    for token in MarkdownIt("commonmark").parse(DOC.read_text(encoding="utf-8")):
        if token.type != "fence" or not token.info.strip():
            continue
        kind, *rest = token.info.split()
        info = dict(part.split("=", 1) for part in rest if "=" in part)
        found.append(Fence(info, kind, token.content))
    return found


def scene(name: str) -> tuple[list[Fence], Fence, list[Fence]]:
    """(files written before, the console session, files expected after) of one scene."""
    blocks = [f for f in fences() if f.info.get("scene", "import") == name or (
        name == "init" and f.info.get("file") in ("package.json", ".env.example"))]  # fmt: skip
    console = next(f for f in blocks if f.kind == "console")
    written = [f for f in blocks if "file" in f.info and f.kind in ("markdown", "json", "text")]
    inputs = [f for f in written if f.info["file"] not in ("import-report.md",)]
    outputs = [f for f in blocks if f.kind == "yaml" and "file" in f.info]
    outputs += [f for f in written if f.info["file"] == "import-report.md"]
    return inputs, console, outputs


def _session(console: Fence, cwd: Path) -> None:
    commands: list[tuple[str, list[str]]] = []
    for line in console.content.splitlines():
        if line.startswith("$ opsbook "):
            commands.append((line[len("$ opsbook ") :], []))
        else:
            commands[-1][1].append(line)
    for command, expected in commands:
        result = run_cli(*command.split(), cwd=cwd)
        got = [x.rstrip() for x in (result.stdout + result.stderr).splitlines()]
        assert got == expected, f"$ opsbook {command}"


@pytest.mark.parametrize("name", ["import", "init", "alternatives"])
def test_scene(name: str, tmp_path: Path) -> None:
    inputs, console, outputs = scene(name)
    assert inputs and (outputs or name == "alternatives")
    for fence in inputs:
        (tmp_path / fence.info["file"]).write_text(fence.content, encoding="utf-8")
    if name == "init":
        (tmp_path / "pnpm-lock.yaml").write_text("")
        migrations = tmp_path / "supabase" / "migrations"
        migrations.mkdir(parents=True)
        (migrations / "20240101000000_init.sql").write_text("create table t (id int);\n")
    _session(console, tmp_path)
    for fence in outputs:
        written = (tmp_path / fence.info["file"]).read_text(encoding="utf-8")
        assert written == fence.content, fence.info["file"]


def test_every_option_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for option in ("opsbook import", "opsbook init", "--output", "-o", "--report", "--force"):
        assert f"`{option}" in text or option in text.split("```")[1], option
