"""Rollout analysis: verdicts from conditions, outcomes from measurements (a real HTTP server
for the web source), progress rebuilt from recorded events, and hostile configurations refused
with a located message."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from opsbook.errors import SpecError
from opsbook.rollout.analysis import Outcome, Verdict, judge, run_analysis
from opsbook.rollout.models import Analysis, Measure
from opsbook.spec.loader import validate_text
from opsbook.steps.base import StepContext
from opsbook.steps.rollout import Progress


def _m(**kw: Any) -> Measure:
    return Measure.model_validate({"name": "m", "command": "true", **kw})


@pytest.mark.parametrize(
    ("conditions", "value", "verdict"),
    [
        ({"success": "result < 0.05", "failure": "result >= 0.05"}, 0.01, Verdict.SUCCESSFUL),
        ({"success": "result < 0.05", "failure": "result >= 0.05"}, 0.2, Verdict.FAILED),
        ({"success": "result < 0.05", "failure": "result >= 0.5"}, 0.2, Verdict.INCONCLUSIVE),
        ({"success": "result < 0.05"}, 0.2, Verdict.FAILED),
        ({"failure": "result > 0.5"}, 0.2, Verdict.SUCCESSFUL),
        ({"success": "result < 0.05"}, None, Verdict.INCONCLUSIVE),
        ({"success": "result < 0.05"}, "text", Verdict.INCONCLUSIVE),
    ],
)
def test_verdicts(conditions: dict[str, str], value: Any, verdict: Verdict) -> None:
    assert judge(_m(**conditions), value) == verdict


def test_an_alert_fails_when_it_fires() -> None:
    alert = Measure.model_validate({"alert": "high_error_rate"})
    assert judge(alert, 1) == Verdict.FAILED and judge(alert, 0) == Verdict.SUCCESSFUL


@pytest.fixture
def stats_server() -> Iterator[tuple[str, dict[str, Any]]]:
    """A real HTTP server whose JSON answer the test changes between measurements."""
    answer: dict[str, Any] = {"canary": {"error_rate": 0.0}}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(answer).encode()
            self.send_response(200 if self.path == "/stats" else 500)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", answer
    finally:
        server.shutdown()
        server.server_close()


def _ctx(tmp_path: Path, lines: list[str]) -> StepContext:
    spec = validate_text("version: 1\nproject: p\n", "opsbook.yaml").spec
    from opsbook.spec.models import Step

    return StepContext(
        run_id="r",
        step=Step(id="s"),
        spec=spec,
        environment="local",
        operator="t",
        attempt=1,
        root=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        render=lambda text: text,
        log=lines.append,
    )


def _analysis(url: str, **kw: Any) -> Analysis:
    metric = {
        "name": "canary-5xx",
        "web": {"url": url, "jmespath": "canary.error_rate"},
        "success": "result < 0.05",
        "failure": "result >= 0.05",
    }
    return Analysis.model_validate({"metrics": [metric], "interval": 0, **kw})


def test_web_source_pass_fail_and_no_data(
    tmp_path: Path, stats_server: tuple[str, dict[str, Any]]
) -> None:
    url, answer = stats_server
    lines: list[str] = []
    ctx = _ctx(tmp_path, lines)
    assert (
        run_analysis(ctx, _analysis(url + "/stats", count=3), threading.Event()).outcome
        == Outcome.PASS
    )
    answer["canary"]["error_rate"] = 0.5
    failed = run_analysis(
        ctx, _analysis(url + "/stats", count=3, failure_limit=1), threading.Event()
    )
    assert failed.outcome == Outcome.FAIL and len(failed.measurements) == 2
    answer["canary"]["error_rate"] = None
    assert (
        run_analysis(ctx, _analysis(url + "/stats"), threading.Event()).outcome
        == Outcome.INCONCLUSIVE
    )
    down = run_analysis(ctx, _analysis(url + "/broken"), threading.Event())
    assert down.outcome == Outcome.INCONCLUSIVE and "HTTP 500" in down.summary
    assert any("canary-5xx" in line for line in lines)


def test_progress_is_rebuilt_from_recorded_events() -> None:
    events = [
        {"phase": "set", "percent": 10, "previous": 0},
        {"phase": "analysis", "percent": 10, "outcome": "pass"},
        {"phase": "pause", "percent": 10, "wake_at": 5.0},
        {"phase": "set", "percent": 50, "previous": 10},
        {"phase": "analysis", "percent": 50, "outcome": "inconclusive", "summary": "x=no data"},
    ]
    state = Progress.replay(events)
    assert (state.percent, state.analysed, state.pending_decision, state.wake_at) == (
        50,
        False,
        "x=no data",
        None,
    )
    decided = Progress.replay([*events, {"phase": "decision", "percent": 50, "by": "ana"}])
    assert decided.analysed and not decided.pending_decision


BASE = """\
version: 1
project: p
runbooks:
  r:
    steps:
      - id: canary
        rollout:
"""


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("          set: x {percent}\n          steps: [50, 10]\n", "steps must grow"),
        ("          set: x\n          steps: [0, 100]\n", "from 1 to 100"),
        ("          set: x\n          steps: []\n", "at least 1"),
        ("          steps: [10]\n", "set"),
        (
            "          set: x\n          steps: [10]\n          analysis:\n            metrics:\n"
            "              - {command: a, web: {url: b}, success: result < 1}\n",
            "exactly one of web, command, metric, alert",
        ),
        (
            "          set: x\n          steps: [10]\n          analysis:\n            metrics:\n"
            "              - {command: a, success: 'result <'}\n",
            "cannot parse condition",
        ),
        (
            "          set: x\n          steps: [10]\n          analysis:\n            metrics:\n"
            "              - {command: a}\n",
            "give success: and/or failure:",
        ),
        (
            "          set: x\n          steps: [10]\n          analysis:\n            metrics:\n"
            "              - {metric: nope, success: result < 1}\n",
            "unknown metric 'nope'",
        ),
        (
            "          set: x\n          steps: [10]\n          analysis:\n            metrics:\n"
            "              - {web: {url: u, jmespath: '[['}, success: result < 1}\n",
            "bad JMESPath",
        ),
        ("          set: x\n          steps: [10]\n          pause: forever\n", "not a duration"),
    ],
)
def test_hostile_rollouts_are_refused_with_a_line(body: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        validate_text(BASE + body, "opsbook.yaml")
    text = "\n".join(str(p) for p in info.value.problems)
    assert message in text and "opsbook.yaml:" in text


FLAG_BASE = """\
version: 1
project: p
flags:
  new-checkout: {default: false}
runbooks:
  r:
    steps:
      - id: f
        flag: """


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{key: nope, on: true}", "unknown flag 'nope'"),
        ("{key: new-checkout}", "say what to do"),
        ("{key: new-checkout, on: true, steps: [10, 100]}", "drop on:/percent:"),
        ("{key: new-checkout, on: true, pause: 1h}", "belong to a rollout"),
        ("{key: new-checkout, steps: [10, 100], guard: {slo: nope}}", "unknown SLO 'nope'"),
        ("{key: new-checkout, steps: [10, 100], guard: {}}", "exactly one of slo: or alert:"),
        ("{key: new-checkout, steps: [100, 10]}", "steps must grow"),
        ("{key: new-checkout, percent: 101}", "less than or equal to 100"),
        ("{key: new-checkout, on: true, reason: " + "x" * 501 + "}", "at most 500"),
    ],
)
def test_hostile_flag_steps_are_refused_with_a_line(value: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        validate_text(FLAG_BASE + value + "\n", "opsbook.yaml")
    text = "\n".join(str(p) for p in info.value.problems)
    assert message in text and "opsbook.yaml:" in text
