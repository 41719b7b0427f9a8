"""Store and filesystem errors are one line with the fix, never a traceback or a silent reset
(issue "Trust", attack 7): a zero-length state.db, a project folder opsbook cannot write, an
operator name too long for the store."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from conftest import run_cli
from engine_support import project

SPEC = """\
version: 1
project: t
environments:
  local: {}
runbooks:
  r:
    steps:
      - {id: a, run: echo hi}
"""


def test_a_truncated_store_is_refused_not_recreated(tmp_path: Path) -> None:
    root = project(tmp_path, SPEC)
    assert run_cli("run", "r", "--env", "local", cwd=root).returncode == 0
    db = root / ".opsbook" / "state.db"
    for companion in root.joinpath(".opsbook").glob("state.db-*"):
        companion.unlink()
    db.write_bytes(b"")
    old = time.time() - 60
    os.utime(db, (old, old))
    done = run_cli("runs", cwd=root)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "is empty (0 bytes): it was truncated or replaced" in done.stderr
    assert "Traceback" not in done.stderr
    assert db.stat().st_size == 0  # left for the operator to restore


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders")
def test_a_read_only_project_folder_is_one_line(tmp_path: Path) -> None:
    root = project(tmp_path, SPEC)
    root.chmod(0o555)
    try:
        done = run_cli("run", "r", "--env", "local", cwd=root)
    finally:
        root.chmod(0o755)
    assert done.returncode == 1, done.stderr
    assert "cannot create the store's folder" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("name", ["x" * 201, "ana\nmallory"])
def test_an_operator_the_store_cannot_hold_is_refused(tmp_path: Path, name: str) -> None:
    root = project(tmp_path, SPEC)
    done = run_cli("run", "r", "--env", "local", cwd=root, env={"OPSBOOK_OPERATOR": name})
    assert done.returncode == 2, done.stdout + done.stderr
    assert "OPSBOOK_OPERATOR must be at most 200 printable characters" in done.stderr
