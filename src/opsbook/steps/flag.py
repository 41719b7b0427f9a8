"""``flag``: change a feature flag inside a runbook, or roll it out in steps behind a guard.

A plain change (``on:``, ``percent:``) is recorded like ``opsbook flag set`` (with the run and
step); a rollout (``steps: [10, 25, 50, 100]``) raises the percentage step by step, pausing
between steps, and stops by itself when its guard fires (an SLO's fast burn-rate alert, or an
alert): the run waits for a human, who resumes it (``opsbook approve RUN STEP``) or rolls it back
(``--reject``). Either way the step's rollback puts back the state the flag had before the step,
so a failed release restores the flags its steps changed. See docs/flags.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from opsbook.errors import OpsbookError
from opsbook.rollout.flagconfig import FlagStepConfig, Guard
from opsbook.rollout.models import start_stage
from opsbook.spec.durations import format_duration
from opsbook.steps.base import StepContext, StepKind, StepResult
from opsbook.steps.rollout import PROGRESS, Progress, record

if TYPE_CHECKING:
    from opsbook.spec.models import Runbook, Spec, Step


def _change(ctx: StepContext, config: FlagStepConfig, reason: str, **what: Any) -> Any:
    """Change the flag as this run's step; a forward change is recorded with ``reason:`` of the
    step when it has one, a restore always with its own reason."""
    from opsbook.flags.service import change_flag

    if ctx.store is None:
        raise OpsbookError("flag steps need opsbook's store; run them with `opsbook run`")
    return change_flag(
        ctx.store,
        ctx.spec.project,
        ctx.spec.flags,
        config.key,
        operator=ctx.operator,
        reason=reason if "restore" in what else (config.reason or reason),
        run_id=ctx.run_id,
        step_id=ctx.step.id,
        **what,
    )


def guard_fired(ctx: StepContext, guard: Guard) -> bool:
    """Whether the guard's alert fires now (no data counts as not firing)."""
    from opsbook.monitor.api import evaluate_alert

    if ctx.loaded is None:
        return False
    check = evaluate_alert(
        ctx.loaded,
        guard.alert_name,
        datetime.now(UTC),
        store=ctx.store,
        environment=ctx.environment,
    )
    return bool(check.holds) if not check.stored else check.firing


class FlagStep(StepKind):
    name = "flag"
    config_type = FlagStepConfig
    changes_things = True
    safe_to_rerun = True  # a change is idempotent; a rollout continues from its progress
    asks_humans = True  # a fired guard waits for `opsbook approve`

    def templates(self, config: Any) -> list[str]:
        return []

    def validate(self, config: Any, spec: Spec, runbook: Runbook, step: Step) -> list[str]:
        problems = []
        if config.key not in spec.flags:
            problems.append(f"unknown flag '{config.key}'; declare it under flags:")
        guard = config.guard
        if guard is not None and guard.slo is not None and guard.slo not in spec.slos:
            problems.append(f"unknown SLO '{guard.slo}'; declare it under slos:")
        if guard is not None and guard.alert is not None and guard.alert not in spec.alerts:
            problems.append(f"unknown alert '{guard.alert}'; declare it under alerts:")
        return problems

    def describe(self, config: Any, render: Callable[[str], str]) -> str:
        if config.steps is None:
            parts = []
            if config.on is not None:
                parts.append("on" if config.on else "off")
            if config.percent is not None:
                parts.append(f"{config.percent}%")
            return f"flag {config.key} → {' '.join(parts)}"
        text = f"flag {config.key} rollout " + " → ".join(f"{p}%" for p in config.steps)
        if config.pause:
            text += f", pause {format_duration(float(config.pause))}"
        if config.guard is not None:
            text += f", guard {config.guard.alert_name}"
        return text

    def execute(self, ctx: StepContext, config: Any) -> StepResult:
        if config.steps is None:
            change = _change(
                ctx,
                config,
                f"run {ctx.run_id} step {ctx.step.id}",
                enabled=config.on,
                percent=config.percent,
            )
            return StepResult(
                ok=True,
                message=f"flag {config.key}: {change.before} → {change.after}",
                data={"before": change.before, "after": change.after},
            )
        return FlagRollout(ctx, config).run()

    def can_roll_back(self, config: Any, spec: Spec) -> bool:
        return True

    def rollback(self, ctx: StepContext, config: Any, data: dict[str, Any]) -> StepResult:
        """Put back the flag's state from before the step (recorded when it started)."""
        before = data.get("before") or _recorded_start(ctx)
        if before is None:
            return StepResult(ok=True, message=f"flag {config.key} was not changed")
        _change(ctx, config, f"rollback of run {ctx.run_id}", restore=before)
        return StepResult(ok=True, message=f"flag {config.key} restored to {before}")


def _recorded_start(ctx: StepContext) -> dict[str, Any] | None:
    events = ctx.recorded(PROGRESS) if ctx.recorded else []
    starts = [e for e in events if e.get("phase") == "start"]
    return dict(starts[0]["before"]) if starts else None


class FlagRollout:
    """One attempt of a flag rollout, continuing from the recorded progress."""

    def __init__(self, ctx: StepContext, config: FlagStepConfig) -> None:
        self.ctx = ctx
        self.config = config
        events = ctx.recorded(PROGRESS) if ctx.recorded else []
        self.progress = Progress.replay(events)
        self.before = _recorded_start(ctx)

    def run(self) -> StepResult:
        from opsbook.flags.service import current_state

        ctx, config = self.ctx, self.config
        steps = config.steps or []
        if self.before is None:
            flag = ctx.spec.flags[config.key]
            self.before = current_state(ctx.store, ctx.spec.project, flag, config.key).facts()
            record(ctx, {"phase": "start", "before": self.before})
        here = self.progress.percent
        start = start_stage(steps, here)
        for stage in range(start, len(steps)):
            percent = steps[stage]
            if self.progress.percent != percent:
                _change(
                    ctx,
                    config,
                    f"rollout to {percent}% (run {ctx.run_id})",
                    enabled=True,
                    percent=percent,
                )
                record(ctx, {"phase": "set", "percent": percent})
                self.progress = Progress(percent=percent)
                ctx.log(f"flag {config.key}: on for {percent}%")
            stopped = self._guarded(percent)
            if stopped is not None:
                return stopped
            if stage < len(steps) - 1 and config.pause:
                stopped = self._pause(percent)
                if stopped is not None:
                    return stopped
        return StepResult(
            ok=True,
            message=f"flag {config.key} rolled out to {steps[-1]}%",
            outputs={"percent": str(steps[-1])},
            data={"before": self.before, "percent": steps[-1]},
        )

    def _guarded(self, percent: int) -> StepResult | None:
        """None to go on; a paused or failed result when the guard fired."""
        guard = self.config.guard
        if guard is None or self.progress.analysed:
            return None
        summary = self.progress.pending_decision
        if not summary:
            if not guard_fired(self.ctx, guard):
                return None
            summary = f"guard {guard.alert_name} fired at {percent}%"
            self.ctx.log(f"flag {self.config.key}: {summary}; the rollout pauses")
            record(
                self.ctx,
                {
                    "phase": "analysis",
                    "percent": percent,
                    "outcome": "inconclusive",
                    "summary": summary,
                },
            )
            self.progress.pending_decision = summary
        decision = self.ctx.decide([f"{summary}; resume the rollout?"]) if self.ctx.decide else None
        if decision is None or decision.approved is None:
            where = f"{self.ctx.run_id} {self.ctx.step.id}"
            return StepResult(
                ok=False,
                paused=True,
                message=f"{summary}; `opsbook approve {where}` resumes, --reject rolls back",
                data={"before": self.before, "percent": percent},
            )
        if not decision.approved:
            _change(
                self.ctx,
                self.config,
                f"{decision.operator} rejected at {percent}%",
                restore=self.before,
            )
            return StepResult(
                ok=False,
                message=f"{summary}; {decision.operator} chose to roll back: flag restored",
                data={"before": self.before},
            )
        record(self.ctx, {"phase": "decision", "percent": percent, "by": decision.operator})
        self.progress.analysed, self.progress.pending_decision = True, ""
        return None

    def _pause(self, percent: int) -> StepResult | None:
        guard = self.config.guard
        wake_at = self.progress.wake_at
        if wake_at is None:
            wake_at = time.time() + float(self.config.pause)
            record(self.ctx, {"phase": "pause", "percent": percent, "wake_at": wake_at})
            self.progress.wake_at = wake_at
        while (remaining := wake_at - time.time()) > 0:
            step = min(remaining, float(guard.every)) if guard else remaining
            if self.ctx.cancelled.wait(step):
                return StepResult(ok=False, message=f"cancelled during the pause at {percent}%")
            stopped = self._guarded(percent)
            if stopped is not None:
                return stopped
        return None
