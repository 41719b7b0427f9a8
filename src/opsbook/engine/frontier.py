"""Which steps of a run can start now: the dependency graph, counted rather than searched.

Each step keeps the number of its ``needs`` not yet done; a step that ends done (succeeded,
skipped, or failed with ``continue_on_error``) lowers its dependents' counts, and a step whose
count reaches zero joins the frontier. Each scheduling decision is therefore O(dependents), not
O(steps): a 1,000-step runbook does not rescan the graph after every step.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from opsbook.engine.states import DONE, StepState, StepStatus
from opsbook.spec.models import Runbook
from opsbook.spec.validate import dependencies


class Frontier:
    """The steps ready to start, given the state the executor keeps of each step."""

    def __init__(self, runbook: Runbook, state: Mapping[str, StepState]) -> None:
        self.state = state
        self.order = [step.id for step in runbook.steps]
        self.tolerated = {step.id for step in runbook.steps if step.continue_on_error}
        self.position = {sid: i for i, sid in enumerate(self.order)}
        self.needs = dependencies(runbook)
        self.dependents: dict[str, list[str]] = {sid: [] for sid in self.order}
        for sid, needs in self.needs.items():
            for need in needs:
                self.dependents[need].append(sid)
        self.unmet: dict[str, int] = {}
        self.steps: set[str] = set()

    def start(self) -> None:
        """Count from the steps' current states (a resumed run has some done already)."""
        self.unmet = {
            sid: sum(1 for need in self.needs[sid] if not self.counts_as_done(need))
            for sid in self.order
        }
        self.steps = {sid for sid in self.order if self.unmet[sid] == 0}

    def ready(self, busy: Iterable[str]) -> list[str]:
        """Pending frontier steps not in ``busy``, in the runbook's order."""
        running = set(busy)
        self.steps = {sid for sid in self.steps if self.state[sid].status == StepStatus.PENDING}
        return sorted(
            (sid for sid in self.steps if sid not in running), key=self.position.__getitem__
        )

    def lone(self) -> bool:
        """Whether exactly one step is on the frontier (it can run in the scheduler's thread)."""
        return len(self.steps) == 1

    def ended(self, sid: str) -> None:
        """``sid`` reached a final state: its dependents may become ready."""
        if not self.counts_as_done(sid):
            return
        for child in self.dependents[sid]:
            self.unmet[child] -= 1
            if self.unmet[child] == 0:
                self.steps.add(child)

    def counts_as_done(self, sid: str) -> bool:
        """Done for its dependents: succeeded, skipped, or failed with ``continue_on_error``."""
        status = self.state[sid].status
        return status in DONE or (status == StepStatus.FAILED and sid in self.tolerated)
