"""``rollout``: move traffic in steps (10% → 50% → 100%) with analysis and a pause between them.

After each ``set`` (the command that moves traffic, with ``{percent}`` and
``{previous_percent}`` replaced), the step runs the analysis: pass → the pause, then the next
step; fail → ``set`` back to 0, the step's ``rollback:`` command, and the step fails (so the run
rolls back); inconclusive → a human decides (``opsbook approve RUN STEP`` or ``--reject``).

Every percentage reached, analysis outcome and pause deadline is recorded as a
``rollout_progress`` event in the run's audit trail. A crash mid-rollout resumes at the recorded
percentage, inside its pause, never jumping ahead. See docs/rollout.md.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opsbook.rollout.analysis import Outcome, run_analysis, shell
from opsbook.rollout.models import RolloutConfig, start_stage
from opsbook.spec.durations import format_duration
from opsbook.steps.base import StepContext, StepKind, StepResult
from opsbook.wording import counted

if TYPE_CHECKING:
    from opsbook.spec.models import Runbook, Spec, Step

PROGRESS = "rollout_progress"


@dataclass
class Progress:
    """Where a rollout stands, rebuilt from its recorded events."""

    percent: int = 0
    analysed: bool = False
    pending_decision: str = ""
    """The summary of an inconclusive analysis at this percentage nobody has decided on yet."""
    wake_at: float | None = None

    @classmethod
    def replay(cls, events: list[dict[str, Any]]) -> Progress:
        state = cls()
        for event in events:
            phase = event.get("phase")
            if phase == "set":
                state = cls(percent=int(event["percent"]))
            elif phase == "analysis" and event.get("percent") == state.percent:
                state.analysed = event.get("outcome") == Outcome.PASS
                inconclusive = event.get("outcome") == Outcome.INCONCLUSIVE
                state.pending_decision = str(event.get("summary", "")) if inconclusive else ""
            elif phase == "decision" and event.get("percent") == state.percent:
                state.analysed, state.pending_decision = True, ""
            elif phase == "pause" and event.get("percent") == state.percent:
                state.wake_at = float(event["wake_at"])
        return state


def set_traffic(ctx: StepContext, config: RolloutConfig, percent: int, previous: int) -> bool:
    """Run the ``set`` command for ``percent``; whether it succeeded."""
    command = config.set.replace("{percent}", str(percent))
    command = command.replace("{previous_percent}", str(previous))
    env = {**ctx.env, "OPSBOOK_PERCENT": str(percent), "OPSBOOK_PREVIOUS_PERCENT": str(previous)}
    ctx.log(f"rollout: {previous}% → {percent}%")
    done = shell(ctx, command, env=env)
    if done.error:
        ctx.log(done.error)
    return done.exit_code == 0 and not done.timed_out


class RolloutStep(StepKind):
    name = "rollout"
    config_type = RolloutConfig
    changes_things = True
    safe_to_rerun = True  # it continues from its recorded progress
    asks_humans = True  # an inconclusive analysis waits for `opsbook approve`

    def templates(self, config: Any) -> Iterator[str]:
        yield config.set
        for m in config.analysis.metrics if config.analysis else []:
            if m.command:
                yield m.command
            if m.web:
                yield m.web.url
                yield from m.web.headers.values()

    def validate(self, config: Any, spec: Spec, runbook: Runbook, step: Step) -> list[str]:
        return monitoring_problems(config.analysis.metrics if config.analysis else [], spec)

    def describe(self, config: Any, render: Callable[[str], str]) -> str:
        text = "rollout " + " → ".join(f"{p}%" for p in config.steps) + f" via {render(config.set)}"
        if config.analysis:
            a = config.analysis
            text += f"; analysis of {counted(len(a.metrics), 'metric')} x{a.count}"
        if config.pause:
            text += f"; pause {format_duration(float(config.pause))}"
        return text

    def execute(self, ctx: StepContext, config: Any) -> StepResult:
        return Rollout(ctx, config).run()

    def can_roll_back(self, config: Any, spec: Spec) -> bool:
        return True

    def rollback(self, ctx: StepContext, config: Any, data: dict[str, Any]) -> StepResult:
        """Move all traffic back (``set`` to 0), when a later step of the run failed."""
        previous = int(data.get("percent", config.steps[-1]))
        if not set_traffic(ctx, config, 0, previous):
            return StepResult(
                ok=False, message=f"setting traffic back to 0% from {previous}% failed"
            )
        record(ctx, {"phase": "set", "percent": 0, "previous": previous})
        return StepResult(ok=True, message=f"traffic back to 0% from {previous}%")


def monitoring_problems(metrics: list[Any], spec: Spec) -> list[str]:
    """Measurements naming metrics or alerts opsbook.yaml does not declare."""
    from opsbook.monitor.slo import burn_alert_names

    problems = []
    declared_alerts = [*spec.alerts, *burn_alert_names(spec)]
    for m in metrics:
        if m.metric is not None and m.metric not in spec.metrics:
            problems.append(f"unknown metric '{m.metric}'; declare it under metrics:")
        if m.alert is not None and m.alert not in declared_alerts:
            problems.append(
                f"unknown alert '{m.alert}'; declare it under alerts: (or an SLO's NAME:page)"
            )
    return problems


def record(ctx: StepContext, data: dict[str, Any]) -> None:
    if ctx.record is not None:
        ctx.record(PROGRESS, data)


class Rollout:
    """One attempt of a rollout step, continuing from the recorded progress."""

    def __init__(self, ctx: StepContext, config: RolloutConfig) -> None:
        self.ctx = ctx
        self.config = config
        events = ctx.recorded(PROGRESS) if ctx.recorded else []
        self.progress = Progress.replay(events)

    def run(self) -> StepResult:
        steps = self.config.steps
        here = self.progress.percent
        start = start_stage(steps, here)
        if here:
            self.ctx.log(f"rollout: continuing at {here}% (recorded)")
        for stage in range(start, len(steps)):
            percent = steps[stage]
            if self.progress.percent != percent:
                previous = self.progress.percent
                if not set_traffic(self.ctx, self.config, percent, previous):
                    return self._abort(percent, f"moving traffic to {percent}% failed")
                record(self.ctx, {"phase": "set", "percent": percent, "previous": previous})
                self.progress = Progress(percent=percent)
            stopped = self._analyse(percent)
            if stopped is not None:
                return stopped
            last = stage == len(steps) - 1
            if not last and self.config.pause and not self._pause(percent):
                return StepResult(ok=False, message=f"cancelled during the pause at {percent}%")
        return StepResult(
            ok=True,
            message=f"rolled out to {steps[-1]}%",
            outputs={"percent": str(steps[-1])},
            data={"percent": steps[-1]},
        )

    def _analyse(self, percent: int) -> StepResult | None:
        """None to go on; a result to stop with (failed, or waiting for a human)."""
        analysis = self.config.analysis
        if analysis is None or self.progress.analysed:
            return None
        summary = self.progress.pending_decision
        if not summary:
            result = run_analysis(self.ctx, analysis, self.ctx.cancelled)
            if self.ctx.cancelled.is_set():
                return StepResult(ok=False, message=f"cancelled during the analysis at {percent}%")
            summary = result.summary
            record(
                self.ctx,
                {
                    "phase": "analysis",
                    "percent": percent,
                    "outcome": str(result.outcome),
                    "summary": summary,
                    "measurements": [m.to_json() for m in result.measurements],
                },
            )
            if result.outcome == Outcome.FAIL:
                return self._abort(percent, f"analysis failed at {percent}%: {summary}")
            if result.outcome == Outcome.PASS:
                return None
        question = f"Analysis at {percent}% was inconclusive ({summary}); continue the rollout?"
        decision = self.ctx.decide([question]) if self.ctx.decide else None
        if decision is None or decision.approved is None:
            return StepResult(
                ok=False,
                paused=True,
                message=f"analysis inconclusive at {percent}%: {summary}; a human decides",
                data={"percent": percent},
            )
        if not decision.approved:
            return self._abort(percent, f"{decision.operator} rejected going on at {percent}%")
        record(self.ctx, {"phase": "decision", "percent": percent, "by": decision.operator})
        note = f" ({decision.note})" if decision.note else ""
        self.ctx.log(f"rollout: going on from {percent}%: approved by {decision.operator}{note}")
        return None

    def _pause(self, percent: int) -> bool:
        wake_at = self.progress.wake_at
        if wake_at is None:
            wake_at = time.time() + float(self.config.pause)
            record(self.ctx, {"phase": "pause", "percent": percent, "wake_at": wake_at})
            self.progress.wake_at = wake_at
        remaining = wake_at - time.time()
        if remaining > 0:
            self.ctx.log(f"rollout: pausing {format_duration(remaining)} at {percent}%")
            return not self.ctx.cancelled.wait(remaining)
        return True

    def _abort(self, percent: int, reason: str) -> StepResult:
        """Traffic back to 0%, then the step's own rollback command; the step fails."""
        self.ctx.log(f"rollout: {reason}; moving traffic back to 0%")
        back = set_traffic(self.ctx, self.config, 0, percent)
        if back:
            record(self.ctx, {"phase": "set", "percent": 0, "previous": percent})
        message = reason + (
            "; traffic back to 0%" if back else "; moving traffic back to 0% FAILED"
        )
        rollback = self.ctx.step.rollback
        if rollback:
            # It runs even when the step was cancelled.
            done = shell(self.ctx, rollback, cancelled=threading.Event())
            message += (
                "; rollback ran" if done.exit_code == 0 else f"; rollback exited {done.exit_code}"
            )
        return StepResult(ok=False, message=message, data={"percent": 0 if back else percent})
