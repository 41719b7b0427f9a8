"""Analysis between rollout steps: take measurements, judge each, and decide pass, fail or
inconclusive, as Argo Rollouts does.

Each measurement gives ``result`` (a number, or no data). It failed when ``failure`` holds (or,
with only ``success`` given, when ``success`` does not), succeeded when ``success`` holds (or,
with only ``failure`` given, when ``failure`` does not), and is inconclusive otherwise, or when
there is no data. The analysis fails as soon as one metric failed more than ``failure_limit``
times; it is inconclusive when any measurement was (a human decides); it passes otherwise.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import simpleeval

from opsbook.rollout.models import Analysis, Measure
from opsbook.steps.base import StepContext

if TYPE_CHECKING:
    from opsbook.steps.run import ShellResult


class Outcome(StrEnum):
    PASS = "pass"  # every measurement succeeded (within failure_limit): go on
    FAIL = "fail"  # a metric failed more than failure_limit times: traffic back to 0
    INCONCLUSIVE = "inconclusive"  # no data, or neither condition held: a human decides


class Verdict(StrEnum):
    SUCCESSFUL = "successful"
    FAILED = "failed"
    INCONCLUSIVE = "inconclusive"


@dataclass
class Measurement:
    metric: str
    value: Any
    verdict: Verdict
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "value": self.value,
            "verdict": str(self.verdict),
            "note": self.note,
        }


@dataclass
class AnalysisResult:
    outcome: Outcome
    measurements: list[Measurement] = field(default_factory=list)

    @property
    def summary(self) -> str:
        parts = [
            f"{m.metric}={_show(m.value)} {m.verdict}" + (f" ({m.note})" if m.note else "")
            for m in self.measurements
        ]
        return "; ".join(parts) or "no measurements"


def _show(value: Any) -> str:
    return "no data" if value is None else json.dumps(value)


def judge(measure: Measure, value: Any) -> Verdict:
    """A measurement's verdict from its conditions (see the module docstring)."""
    if value is None:
        return Verdict.INCONCLUSIVE
    success, failure = measure.success, measure.failure
    if measure.alert is not None and success is None and failure is None:
        failure = "result == 1"
    names = {"result": value}
    failed = _holds(failure, names) if failure else None
    succeeded = _holds(success, names) if success else None
    if failed:
        return Verdict.FAILED
    if succeeded:
        return Verdict.SUCCESSFUL
    if failure is None and succeeded is False:
        return Verdict.FAILED
    if success is None and failed is False:
        return Verdict.SUCCESSFUL
    return Verdict.INCONCLUSIVE


def _holds(condition: str, names: dict[str, Any]) -> bool | None:
    try:
        return bool(simpleeval.simple_eval(condition.strip(), names=names))
    except Exception:  # a condition that cannot apply to this value (None < 1): no verdict
        return None


def measure(ctx: StepContext, m: Measure) -> tuple[Any, str]:
    """The value of one measurement now, and a note (why there is no data)."""
    try:
        if m.web is not None:
            return _web(ctx, m)
        if m.command is not None:
            return _command(ctx, m.command)
        return _monitor(ctx, m)
    except Exception as err:  # any provider failure is "no data", never a crash of the step
        return None, f"{type(err).__name__}: {err}"[:300]


def _web(ctx: StepContext, m: Measure) -> tuple[Any, str]:
    import httpx
    import jmespath

    assert m.web is not None
    url = ctx.render(m.web.url)
    headers = {k: ctx.render(v) for k, v in m.web.headers.items()}
    reply = httpx.get(url, headers=headers, timeout=float(m.web.timeout))
    if reply.status_code >= 400:
        return None, f"HTTP {reply.status_code}"
    body = reply.json()
    value = jmespath.search(m.web.jmespath, body) if m.web.jmespath else body
    return _number(value)


def shell(
    ctx: StepContext,
    command: str,
    *,
    env: Mapping[str, str] | None = None,
    log: Callable[[str], None] | None = None,
    cancelled: threading.Event | None = None,
) -> ShellResult:
    """Run a command of the step as ``run`` steps do (``${{ }}`` through the environment), in
    the step's directory, with its environment and timeout (default 5 minutes)."""
    from opsbook.steps.run import run_template

    return run_template(
        command,
        ctx.render,
        cwd=ctx.root / ctx.step.dir if ctx.step.dir else ctx.root,
        env=ctx.env if env is None else env,
        log=ctx.log if log is None else log,
        timeout=ctx.timeout or 300.0,
        cancelled=ctx.cancelled if cancelled is None else cancelled,
        secrets=ctx.secrets,
    )


def _command(ctx: StepContext, command: str) -> tuple[Any, str]:
    lines: list[str] = []
    done = shell(ctx, command, log=lines.append)
    for line in lines:
        ctx.log(line)
    if done.exit_code != 0:
        return None, done.error or f"exit {done.exit_code}"
    last = next((line.strip() for line in reversed(lines) if line.strip()), "")
    try:
        return _number(json.loads(last))
    except ValueError:
        return None, f"last line {last[:60]!r} is not a number"


def _monitor(ctx: StepContext, m: Measure) -> tuple[Any, str]:
    from opsbook.monitor.api import evaluate_alert, metric_value

    if ctx.loaded is None or (m.alert is None and m.metric is None):
        return None, "no spec"
    now = datetime.now(UTC)
    if m.alert is not None:
        check = evaluate_alert(
            ctx.loaded, m.alert, now, store=ctx.store, environment=ctx.environment
        )
        if check.holds is None and not check.stored:
            return None, "no data"
        return (1 if check.firing else 0), ""
    reading = metric_value(ctx.loaded, m.metric or "", now, environment=ctx.environment)
    values = [s.value for s in reading.samples if s.value is not None]
    if not values:
        return None, getattr(reading, "error", None) or "no data"
    return max(values), ""


def _number(value: Any) -> tuple[Any, str]:
    if value is None:
        return None, "no data"
    if isinstance(value, bool):
        return int(value), ""
    if isinstance(value, int | float):
        return value, ""
    if isinstance(value, str):
        try:
            return float(value), ""
        except ValueError:
            pass
    return None, f"{json.dumps(value)[:60]} is not a number"


def run_analysis(
    ctx: StepContext, analysis: Analysis, cancelled: threading.Event
) -> AnalysisResult:
    """Take ``count`` rounds of measurements ``interval`` apart (after ``initial_delay``)."""
    result = AnalysisResult(Outcome.PASS)
    failures: dict[str, int] = {}
    if analysis.initial_delay and cancelled.wait(float(analysis.initial_delay)):
        return result
    for round_ in range(analysis.count):
        if round_ and cancelled.wait(float(analysis.interval)):
            break
        for m in analysis.metrics:
            value, note = measure(ctx, m)
            verdict = judge(m, value)
            result.measurements.append(Measurement(m.label, value, verdict, note))
            ctx.log(
                f"analysis: {m.label} = {_show(value)} → {verdict}" + (f" ({note})" if note else "")
            )
            if verdict == Verdict.FAILED:
                failures[m.label] = failures.get(m.label, 0) + 1
                if failures[m.label] > analysis.failure_limit:
                    result.outcome = Outcome.FAIL
                    return result
    if any(x.verdict == Verdict.INCONCLUSIVE for x in result.measurements):
        result.outcome = Outcome.INCONCLUSIVE
    return result
