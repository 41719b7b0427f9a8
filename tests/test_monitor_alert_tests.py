"""`opsbook test alerts FILE`: promtool-style unit tests of alert rules over given log lines."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import run_cli
from monitor_support import FIXTURES

TESTS = """\
interval: 1m
start: "2026-11-30T09:00:00Z"
logs:
  logs/app.jsonl:
{lines}
tests:
  - {{at: "2026-11-30T09:01:00Z", firing: [], pending: [high_error_rate]}}
  - {{at: "2026-11-30T09:03:00Z", firing: [{expected}]}}
  - {{at: "2026-11-30T09:10:00Z", firing: []}}
"""


def _lines() -> str:
    errors = [
        f'    - {{ts: "2026-11-30T09:00:{s:02d}Z", level: error, event: request}}'
        for s in range(0, 30, 3)
    ]
    calm = [
        f'    - {{ts: "2026-11-30T09:08:{s:02d}Z", level: info, event: request}}'
        for s in range(0, 30, 3)
    ]
    return "\n".join(errors + calm)


def _project(tmp_path: Path) -> Path:
    shutil.copy(FIXTURES / "seed_rules.yaml", tmp_path / "opsbook.yaml")
    return tmp_path


def test_rules_pass_their_unit_tests(tmp_path: Path) -> None:
    root = _project(tmp_path)
    (root / "alerts.test.yaml").write_text(TESTS.format(lines=_lines(), expected="high_error_rate"))
    done = run_cli("test", "alerts", "alerts.test.yaml", cwd=root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "3 of 3 passed"
    assert not (root / "logs").exists()  # the test's lines went to a copy of the project


def test_a_wrong_expectation_fails_with_what_fired(tmp_path: Path) -> None:
    root = _project(tmp_path)
    (root / "alerts.test.yaml").write_text(TESTS.format(lines=_lines(), expected="slow_responses"))
    done = run_cli("test", "alerts", "alerts.test.yaml", cwd=root)
    assert done.returncode == 1
    assert (
        "FAILED  2026-11-30 09:03:00  firing: high_error_rate; expected slow_responses"
        in done.stdout
    )
    assert "1 of 3 alert tests failed" in done.stderr


def test_hostile_test_files_are_refused_with_exit_2(tmp_path: Path) -> None:
    root = _project(tmp_path)
    cases = {
        "escape.yaml": 'logs:\n  ../outside.jsonl: [{ts: "2026-11-30T09:00:00Z"}]\n'
        'tests: [{at: "2026-11-30T09:01:00Z"}]\n',
        "no-tests.yaml": "logs: {}\ntests: []\n",
        "bad-time.yaml": 'tests: [{at: "yesterday-ish"}]\n',
    }
    for name, text in cases.items():
        (root / name).write_text(text)
        done = run_cli("test", "alerts", name, cwd=root)
        assert done.returncode == 2, (name, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
    assert not (tmp_path.parent / "outside.jsonl").exists()
