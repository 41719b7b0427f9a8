"""Questions for a human while a run executes: gates, ``confirm:`` and long waits.

A gate (or a step with ``confirm:``) is answered by an approval row recorded through opsbook
(``opsbook approve``, the web page, ``--yes`` or the terminal's prompt); without one the step
waits and the run pauses, lease released, lock kept. An approval written into the table by
hand, or one the environment's approval policy refuses, leaves the gate unanswered. A wait's
wake-up time is recorded once, so a resumed run wakes when the first one would have.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from opsbook.approvals import policy as approval_policy
from opsbook.engine.states import DONE, EventType, StepState, StepStatus
from opsbook.plan import confirm_items
from opsbook.steps.base import Decision
from opsbook.steps.registry import get_kind
from opsbook.store import events as chain
from opsbook.store import integrity
from opsbook.store import runs as q

if TYPE_CHECKING:
    from opsbook.engine.checkpoint import Fenced
    from opsbook.engine.setup import Setup
    from opsbook.masking import Masker
    from opsbook.spec.models import Step
    from opsbook.store import Store


class GateHost(Protocol):
    """What the gates need from the executor holding the run (the executor is one)."""

    run_id: str
    order: list[str]
    masker: Masker
    store: Store
    s: Setup

    @property
    def state(self) -> Mapping[str, StepState]: ...
    def txn(self, now: float | None = None) -> Fenced: ...
    def emit(self, type_: EventType, sid: str | None, **data: Any) -> None: ...


def asks_humans(step: Step) -> bool:
    """Whether a paused step waits for a human (a gate, a confirmation, a kind's question)."""
    return get_kind(step.kind).asks_humans or bool(step.confirm)


class Gates:
    """Answers the questions of one executor's steps, one at a time at the terminal."""

    def __init__(self, host: GateHost) -> None:
        self.x = host
        self._asking = threading.Lock()  # parallel steps ask the terminal one at a time

    def confirmed(self, step: Step, masked: Callable[[str], str]) -> bool:
        """``confirm:``: a human answers like at a gate, about the exact command (``masked``
        renders the step's templates with secrets masked).

        Unanswered, the step waits (the run pauses as at a gate); rejected, it fails.
        """
        x = self.x
        items = confirm_items(step, get_kind(step.kind).describe(step.config, masked), masked)
        decision = self.decide(step.id, items, confirm=True)
        if decision.approved:
            return True
        st = x.state[step.id]
        if decision.approved is None:
            status, event = StepStatus.WAITING, EventType.GATE_WAITING
            st.result = {"message": "waiting for confirmation", "confirm": items}
        else:
            status, event = StepStatus.FAILED, EventType.STEP_FAILED
            note = f": {decision.note}" if decision.note else ""
            st.result = {"message": f"not confirmed: rejected by {decision.operator}{note}"}
            st.finished_at = time.time()
        with x.txn() as conn:
            q.step_transition(
                conn, x.run_id, step.id, from_={st.status}, to=status, result=st.result
            )
            chain.append(
                conn,
                event,
                run_id=x.run_id,
                step_id=step.id,
                actor=x.s.operator,
                data={"confirm": items, "message": st.result["message"]},
            )
        st.status = status
        x.emit(event, step.id, confirm=items, message=st.result["message"])
        return False

    def decide(self, sid: str, items: list[str], *, confirm: bool = False) -> Decision:
        """The recorded answer for ``sid``, else ``--yes`` or the terminal's; else unanswered."""
        x = self.x
        recorded = self._recorded(sid)
        if recorded is not None:
            return recorded
        evidence = self._evidence(items)
        if confirm:
            evidence["confirm"] = True
        environment = x.s.effective.environment
        if environment.approvers is not None:
            return Decision(None)  # answered only through `opsbook approve` (approvals.policy)
        if x.s.yes and not environment.protected:
            auto = Decision(True, x.s.operator, "auto-approved (--yes)")
            return self._record(sid, auto, evidence, via=approval_policy.AUTO)
        if x.s.ask is not None:
            x.emit(EventType.GATE_ASKING, sid, items=items)
            with self._asking:
                decision = x.s.ask(sid, items, evidence)
            if decision.approved is not None:
                return self._record(sid, decision, evidence)
        return Decision(None)

    def deadline(self, sid: str, seconds: float) -> float:
        """When a wait of ``seconds`` started by ``sid`` ends: recorded once, kept on resume."""
        st = self.x.state[sid]
        if st.wake_at is None:
            st.wake_at = time.time() + seconds
            with self.x.txn() as conn:
                q.set_step(conn, self.x.run_id, sid, wake_at=st.wake_at)
        return st.wake_at

    def _recorded(self, sid: str) -> Decision | None:
        """The approval row's answer; unanswered (``Decision(None)``) when it is not trusted."""
        x = self.x
        with x.store.begin() as conn:
            row = q.get_approval(conn, x.run_id, sid)
            genuine = row is not None and integrity.approval_is_recorded(conn, row)
        if row is None:
            return None
        if not genuine:
            # Written into the table by hand, not by opsbook: the gate stays unanswered.
            x.emit(EventType.APPROVAL_REFUSED, sid, message=integrity.refused(row))
            return Decision(None)
        refused = approval_policy.recorded_problem(x.s.loaded, x.s.run, row)
        if refused:
            x.emit(EventType.APPROVAL_REFUSED, sid, message=f"{refused}; the gate waits")
            return Decision(None)
        return Decision(row.decision == "approved", row.operator, row.note or "")

    def _evidence(self, items: list[str]) -> dict[str, Any]:
        x = self.x
        return {
            "items": [x.masker(i) for i in items],
            "outputs": {sid: st.outputs for sid, st in x.state.items() if st.outputs},
            "done": [sid for sid in x.order if x.state[sid].status in DONE],
        }

    def _record(
        self, sid: str, decision: Decision, evidence: dict[str, Any], via: str = "human"
    ) -> Decision:
        x = self.x
        verb = "approved" if decision.approved else "rejected"
        note = x.masker(decision.note)
        with x.txn() as conn:
            q.insert_approval(
                conn,
                run_id=x.run_id,
                step_id=sid,
                decision=verb,
                operator=decision.operator,
                note=note,
                evidence=evidence,
                created_at=time.time(),
                via=via,
            )
            chain.append(
                conn,
                EventType.GATE_APPROVED if decision.approved else EventType.GATE_REJECTED,
                run_id=x.run_id,
                step_id=sid,
                actor=decision.operator,
                data={
                    "note": note,
                    "via": via,
                    **({"confirm": evidence["items"]} if "confirm" in evidence else {}),
                },
            )
        return Decision(decision.approved, decision.operator, note)
