"""The scheduler's frontier: which steps are ready, by counting each step's unmet needs."""

from __future__ import annotations

from pathlib import Path

from opsbook.engine.frontier import Frontier
from opsbook.engine.states import StepState, StepStatus
from opsbook.spec.loader import load_spec

SPEC = """\
version: 1
project: frontier
environments: {local: {}}
runbooks:
  diamond:
    steps:
      - {id: build, run: 'true'}
      - {id: lint, run: 'true', needs: [], continue_on_error: true}
      - {id: test, run: 'true', needs: [build]}
      - {id: docs, run: 'true', needs: [build, lint]}
      - {id: ship, run: 'true', needs: [test, docs]}
      - {id: announce, run: 'true'}
"""


def _frontier(tmp_path: Path, done: dict[str, StepStatus]) -> tuple[Frontier, dict[str, StepState]]:
    (tmp_path / "opsbook.yaml").write_text(SPEC)
    runbook = load_spec(tmp_path / "opsbook.yaml").spec.runbooks["diamond"]
    state = {s.id: StepState(done.get(s.id, StepStatus.PENDING)) for s in runbook.steps}
    frontier = Frontier(runbook, state)
    frontier.start()
    return frontier, state


def _end(frontier: Frontier, state: dict[str, StepState], sid: str, status: StepStatus) -> None:
    state[sid].status = status
    frontier.ended(sid)


def test_steps_become_ready_in_runbook_order_as_their_needs_end(tmp_path: Path) -> None:
    frontier, state = _frontier(tmp_path, {})
    assert frontier.ready(()) == ["build", "lint"]
    assert frontier.ready(["build"]) == ["lint"]
    _end(frontier, state, "build", StepStatus.SUCCEEDED)
    assert frontier.ready(()) == ["lint", "test"]
    _end(frontier, state, "test", StepStatus.SUCCEEDED)
    assert frontier.ready(()) == ["lint"]  # docs still needs lint
    _end(frontier, state, "lint", StepStatus.FAILED)  # continue_on_error: counts as done
    assert frontier.ready(()) == ["docs"]
    assert frontier.lone()
    _end(frontier, state, "docs", StepStatus.SKIPPED)
    assert frontier.ready(()) == ["ship"]
    _end(frontier, state, "ship", StepStatus.SUCCEEDED)
    assert frontier.ready(()) == ["announce"]  # no needs: the step above


def test_a_failed_step_holds_its_dependents(tmp_path: Path) -> None:
    frontier, state = _frontier(tmp_path, {})
    _end(frontier, state, "build", StepStatus.FAILED)
    _end(frontier, state, "lint", StepStatus.SUCCEEDED)
    assert frontier.ready(()) == []
    assert not frontier.counts_as_done("build")


def test_a_resumed_run_counts_from_what_is_already_done(tmp_path: Path) -> None:
    done = {"build": StepStatus.SUCCEEDED, "lint": StepStatus.SUCCEEDED, "test": StepStatus.RUNNING}
    frontier, state = _frontier(tmp_path, done)
    assert frontier.ready(()) == ["docs"]  # test is running, not pending: not offered again
    state["test"].status = StepStatus.PENDING  # recovery reset it to run again
    assert frontier.ready(()) == ["docs"]  # the frontier was cut to pending steps already
    frontier.start()
    assert frontier.ready(()) == ["test", "docs"]  # runbook order
