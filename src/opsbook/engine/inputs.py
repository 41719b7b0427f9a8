"""What one attempt of a step is given: its templates rendered, its environment, its log and the
:class:`~opsbook.steps.base.StepContext` its kind executes (or rolls back) with.

Forward (:mod:`~opsbook.engine.attempts`) and backward (:mod:`~opsbook.engine.rollback`) use the
same :class:`StepInputs`, so a rollback command sees the values and the environment the step saw.
Everything a step is given or logs goes through the run's masker first.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from opsbook import environ
from opsbook.engine.observe import RunEvent
from opsbook.engine.states import EventType, StepState, StepStatus
from opsbook.plan import expression_context
from opsbook.spec import expressions as ex
from opsbook.steps.base import StepContext
from opsbook.store import events as chain

if TYPE_CHECKING:
    from opsbook.engine.checkpoint import Fenced
    from opsbook.engine.output import CappedOutput
    from opsbook.engine.setup import Setup
    from opsbook.masking import Masker
    from opsbook.spec.models import Step

_OUTCOME = {
    StepStatus.SUCCEEDED: "success",
    StepStatus.FAILED: "failure",
    StepStatus.SKIPPED: "skipped",
}
"""A step's ``outcome`` as expressions see it (GitHub Actions' words)."""


class StepInputs:
    """Builds what each attempt of a run's steps gets, from the run's setup and its steps' state."""

    def __init__(
        self,
        *,
        setup: Setup,
        state: Mapping[str, StepState],
        masker: Masker,
        txn: Callable[[], Fenced],
    ) -> None:
        self.s = setup
        self.run_id = setup.run.id
        self.state = state
        self.masker = masker
        self.txn = txn
        self._base_env: dict[str, str] | None = None

    def renderer(self) -> Callable[[str], str]:
        """Render templates; the context (O(steps) to build) is made on first use only."""
        cache: list[dict[str, Any]] = []

        def render(text: str) -> str:
            if "${{" not in text:
                return text
            if not cache:
                cache.append(self.expression_values())
            return ex.render(text, cache[0])

        return render

    def expression_values(self) -> dict[str, Any]:
        """What ``${{ }}`` and ``if:`` see now: the run, its environment, params and steps."""
        run = self.s.run
        steps = {
            sid: {
                "outputs": st.outputs,
                "status": st.status,
                "outcome": _OUTCOME.get(st.status, ""),
            }
            for sid, st in self.state.items()
        }
        return expression_context(
            self.s.loaded,
            self.s.effective,
            self.s.params,
            run={
                "id": self.run_id,
                "operator": run.operator,
                "runbook": run.runbook,
                "started_at": run.started_at or run.created_at,
                "git_sha": run.git_sha or "",
            },
            steps=steps,
        )

    def process_env(self, step: Step, render: Callable[[str], str]) -> dict[str, str]:
        """The environment of the step's processes: ours, the environment's values, the step's
        ``env:`` rendered, and the run's ``OPSBOOK_*`` variables."""
        if self._base_env is None:  # copying os.environ decodes every variable: once per run
            self._base_env = {**os.environ, **self.s.effective.values}
        env = dict(self._base_env)
        env.update({k: render(environ._text(v)) for k, v in step.env.items()})
        env.update(
            OPSBOOK_RUN_ID=self.run_id,
            OPSBOOK_STEP_ID=step.id,
            OPSBOOK_ENVIRONMENT=self.s.effective.name,
            OPSBOOK_OPERATOR=self.s.operator,
        )
        return env

    def logger(self, sid: str, output: CappedOutput) -> Callable[[str], None]:
        """Where a step's output lines go: masked, kept (capped) and shown as they come."""

        def log(line: str) -> None:
            masked = self.masker(line)
            output.add(masked)
            self.s.observer(RunEvent(EventType.STEP_OUTPUT, self.run_id, sid, {"line": masked}))

        return log

    def step_context(
        self,
        step: Step,
        attempt: int,
        env: dict[str, str],
        render: Callable[[str], str],
        output: CappedOutput,
    ) -> StepContext:
        """What a kind gets to execute (or roll back) one attempt of a step."""
        return StepContext(
            run_id=self.run_id,
            step=step,
            spec=self.s.loaded.spec,
            environment=self.s.effective.name,
            operator=self.s.operator,
            attempt=attempt,
            root=self.s.loaded.root,
            env=dict(env),
            render=render,
            log=self.logger(step.id, output),
            timeout=step.timeout,
            secrets=tuple(self.masker.secrets),
            loaded=self.s.loaded,
            record=functools.partial(self._record_event, step.id),
            recorded=functools.partial(self._recorded, step.id),
            store=self.s.store,
        )

    def _record_event(self, sid: str, type_: str, data: dict[str, Any]) -> None:
        with self.txn() as conn:
            chain.append(
                conn,
                type_,
                run_id=self.run_id,
                step_id=sid,
                actor=self.s.operator,
                data=_as_dict(self.masker.mask_data(data)),
            )

    def _recorded(self, sid: str, type_: str) -> list[dict[str, Any]]:
        with self.s.store.begin() as conn:
            return chain.step_events(conn, self.run_id, sid, type_)


def _as_dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
