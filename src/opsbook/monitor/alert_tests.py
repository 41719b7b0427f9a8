"""``opsbook test alerts FILE``: unit tests of alert rules, in the manner of ``promtool test
rules``: input log lines with their times, and the alerts expected to fire (or be pending) at
given instants. The rules of opsbook.yaml are evaluated every ``interval`` from ``start`` over a
copy of the project whose log files hold only the test's lines; nothing is stored or sent::

    interval: 1m
    logs:
      logs/app.jsonl:
        - {ts: "2026-11-30T09:00:00Z", level: error, event: request}
    tests:
      - {at: "2026-11-30T09:01:00Z", firing: [high_error_rate]}
      - {at: "2026-11-30T09:20:00Z", firing: []}
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from opsbook.errors import UsageError
from opsbook.monitor.state import AlertState
from opsbook.spec.durations import Duration
from opsbook.spec.loader import LoadedSpec
from opsbook.spec.strict import Model

MAX_LINES = 1_000_000


class Expectation(Model):
    at: str
    firing: list[str] = Field(default_factory=list)
    pending: list[str] | None = None


class AlertTestFile(Model):
    interval: Duration = 60.0
    start: str | None = None
    logs: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    tests: list[Expectation] = Field(min_length=1)


@dataclass
class Outcome:
    at: datetime
    ok: bool
    expected_firing: list[str]
    firing: list[str]
    expected_pending: list[str] | None = None
    pending: list[str] = field(default_factory=list)


def _parse(path: Path) -> AlertTestFile:
    from opsbook.spec.loader import parse_yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise UsageError(f"{path}: cannot read: {err.strerror}") from None
    doc = parse_yaml(text, path.name)
    try:
        return AlertTestFile.model_validate(doc.data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        line = doc.line(tuple(first["loc"]))
        raise UsageError(
            f"{path.name}:{line}: {where}: {first['msg']}",
            hint="see docs/monitoring.md for the test file's format",
        ) from None


def run_alert_tests(loaded: LoadedSpec, test_file: Path) -> list[Outcome]:
    """Evaluate the rules over the test's log lines; one outcome per expectation."""
    from opsbook.clock import parse_time
    from opsbook.monitor.replay import replay
    from opsbook.spec.loader import load_spec

    spec_file = _parse(test_file)
    lines = sum(len(v) for v in spec_file.logs.values())
    if lines > MAX_LINES:
        raise UsageError(f"{test_file.name}: {lines} log lines; at most {MAX_LINES}")
    times = [parse_time(t.at, option="at") for t in spec_file.tests]
    with tempfile.TemporaryDirectory(prefix="opsbook-alert-test-") as tmp:
        root = Path(tmp)
        shutil.copy(loaded.path, root / "opsbook.yaml")
        for name, records in spec_file.logs.items():
            target = (root / name).resolve()
            if root.resolve() not in target.parents:
                raise UsageError(f"{test_file.name}: logs path {name!r} leaves the project")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("".join(json.dumps(r, default=str) + "\n" for r in records))
        copy = load_spec(root / "opsbook.yaml")
        start = parse_time(spec_file.start, option="start") if spec_file.start else min(times)
        end = max(times)
        result = replay(copy, start, end, spec_file.interval, record_states=True)
    outcomes = []
    for expectation, at in zip(spec_file.tests, times, strict=True):
        states = result.states_at(at)
        firing = sorted({a for a, s in states if s == AlertState.FIRING})
        pending = sorted({a for a, s in states if s == AlertState.PENDING})
        ok = firing == sorted(expectation.firing) and (
            expectation.pending is None or pending == sorted(expectation.pending)
        )
        outcomes.append(
            Outcome(at, ok, sorted(expectation.firing), firing, expectation.pending, pending)
        )
    return outcomes
