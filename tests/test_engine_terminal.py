"""In a terminal, `opsbook run` asks at a gate, one checklist item at a time (a real pty)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine_support import FAST, on_pty, only_run, project, rows
from opsbook.store import schema

GATES = """\
version: 1
project: g
environments: {local: {}}
runbooks:
  release:
    steps:
      - {id: build, run: echo "artifact=app-7" >> $OPSBOOK_OUTPUT}
      - id: window
        gate: [On-call engineer is aware, Status page updated]
      - {id: deploy, run: echo deployed >> log.txt, rollback: echo undeployed >> log.txt}
"""


def _converse(root: Path, url: str, answers: list[tuple[str, str]]) -> tuple[int, str]:
    """Run opsbook on a pty; when the screen shows each prompt, type its answer."""
    env = {**os.environ, **FAST, "OPSBOOK_DATABASE_URL": url, "NO_COLOR": "1", "TERM": "dumb"}
    return on_pty(["run", "release", "--env", "local"], cwd=root, env=env, answers=answers)


@pytest.mark.store
def test_a_gate_asks_each_item_and_records_the_answer(tmp_path: Path, store_url: str) -> None:
    root = project(tmp_path, GATES)
    code, screen = _converse(
        root,
        store_url,
        [
            ("☐ On-call engineer is aware", "y"),
            ("☐ Status page updated", "y"),
            ("note (optional)", "all good"),
        ],
    )
    assert code == 0, screen
    assert "build outputs: artifact=app-7" in screen  # the evidence shown to the approver
    assert (root / "log.txt").read_text() == "deployed\n"
    (approval,) = rows(store_url, schema.approvals)
    assert (approval.decision, approval.operator, approval.note) == (
        "approved",
        "tester",
        "all good",
    )


@pytest.mark.store
def test_answering_no_rejects_the_gate(tmp_path: Path, store_url: str) -> None:
    root = project(tmp_path, GATES)
    code, screen = _converse(
        root,
        store_url,
        [("☐ On-call engineer is aware", "n"), ("note (optional)", "on-call is asleep")],
    )
    assert code == 1, screen
    assert not (root / "log.txt").exists()
    (approval,) = rows(store_url, schema.approvals)
    assert (approval.decision, approval.note) == ("rejected", "on-call is asleep")
    assert only_run(store_url).status == "rolled_back"


@pytest.mark.store
def test_enter_at_a_gate_means_not_yet_and_the_run_pauses(tmp_path: Path, store_url: str) -> None:
    root = project(tmp_path, GATES)
    code, screen = _converse(root, store_url, [("☐ On-call engineer is aware", "")])
    assert code == 3, screen  # waiting for a human, nothing rejected or rolled back
    assert not (root / "log.txt").exists()
    assert rows(store_url, schema.approvals) == []
    assert only_run(store_url).status == "waiting"
