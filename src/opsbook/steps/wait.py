"""``wait``: a durable timer; the deadline survives restarts."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from opsbook.spec.durations import Duration, format_duration
from opsbook.steps.base import StepContext, StepKind, StepResult


class WaitStep(StepKind):
    name = "wait"
    config_type = Duration
    changes_things = False
    safe_to_rerun = True

    def templates(self, config: Any) -> list[str]:
        return []

    def describe(self, config: Any, render: Callable[[str], str]) -> str:
        return f"wait {format_duration(float(config))}"

    def execute(self, ctx: StepContext, config: Any) -> StepResult:
        seconds = float(config)
        # The deadline is stored the first time; after a crash the wait resumes with what is
        # left of it instead of starting over.
        wake_at = ctx.deadline(seconds) if ctx.deadline else time.time() + seconds
        remaining = wake_at - time.time()
        longest = ctx.pause_waits_over
        if longest is not None and remaining > float(longest):
            # A worker does not sit on a long timer: the run pauses and is taken up when due.
            when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(wake_at))
            return StepResult(
                ok=False, paused=True, message=f"paused until {when}", data={"wake_at": wake_at}
            )
        if remaining > 0 and ctx.cancelled.wait(remaining):
            return StepResult(ok=False, message="cancelled")
        return StepResult(ok=True, data={"wake_at": wake_at})
