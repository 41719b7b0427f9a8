"""Runbooks in the shapes real ones have (tests/fixtures/import/NN-*.md, written for these tests),
imported and planned on the protected environment through the real CLI (`plan --json`).

Every fixture must import, validate and plan, and on production: no command that changes or
deletes anything runs without a confirmation quoting it, no prompt or output line runs, nothing
that never ends or waits for typing is a plain step, and only one branch of an alternative runs.
Each fixture's `.expect.toml` says by hand what must and must not run; every key is checked.
"""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from conftest import run_cli
from opsbook.cli import app
from opsbook.spec.loader import load_spec

CORPUS = Path(__file__).parent / "fixtures" / "import"
FIXTURES = sorted(CORPUS.glob("[0-9][0-9]-*.md"))


def test_the_corpus_has_at_least_15_runbooks_each_with_expectations() -> None:
    assert len(FIXTURES) >= 15
    for source in FIXTURES:
        assert _expect_file(source).is_file(), source


def _expect_file(source: Path) -> Path:
    return source.with_name(source.stem + ".expect.toml")


class Imported:
    """One fixture imported into a temp dir, its spec loaded and every runbook planned."""

    def __init__(self, source: Path, tmp: Path, given: dict[str, dict[str, str]]) -> None:
        shutil.copy(source, tmp / source.name)
        done = run_cli(
            "import", source.name, "--report", "report.md", "--json", cwd=tmp, timeout=60
        )
        assert done.returncode == 0, done.stdout + done.stderr
        self.summary = json.loads(done.stdout)
        self.report = (tmp / "report.md").read_text()
        checked = _in_process("validate", "-f", str(tmp / "opsbook.yaml"))
        assert checked.exit_code == 0, checked.output
        self.spec = load_spec(tmp / "opsbook.yaml").spec
        self.plans: dict[str, dict[str, Any]] = {}
        for name, runbook in self.spec.runbooks.items():
            params = dict(given.get(name, {}))
            for param, decl in runbook.params.items():
                if decl.choices and param not in params:
                    pytest.fail(
                        f"{source.name}: runbook {name} has an alternative ({param}:"
                        f" {decl.choices}); say in the .expect.toml which branch runs"
                    )
                params.setdefault(param, f"value-{param}")
            args = [a for k, v in params.items() for a in ("-p", f"{k}={v}")]
            planned = _in_process(
                "plan", name, "-e", "production", "--json", "-f", str(tmp / "opsbook.yaml"), *args
            )
            assert planned.exit_code == 0, planned.output
            plan = json.loads(planned.stdout)
            assert plan["protected"] is True
            self.plans[name] = plan

    def steps(self) -> list[dict[str, Any]]:
        return [step for plan in self.plans.values() for step in plan["steps"]]

    def runs(self) -> list[dict[str, Any]]:
        return [s for s in self.steps() if s["kind"] == "run"]

    def with_text(self, text: str) -> list[dict[str, Any]]:
        found = [s for s in self.steps() if text in s["action"] or text in _items(s)]
        assert found, f"no step holds {text!r}"
        return found

    def spec_step(self, step_id: str, runbook: str) -> Any:
        return self.spec.runbooks[runbook].step(step_id)


def _in_process(*args: str) -> Result:
    """The real CLI app in this process: the import ran as a subprocess already, and ~60
    plans as subprocesses would cost a minute of start-up on a busy machine."""
    return CliRunner().invoke(app, list(args), env={"NO_COLOR": "1", "COLUMNS": "200"})


def _items(step: dict[str, Any]) -> str:
    return "\n".join(step["gate"] or [])


@pytest.mark.parametrize("source", FIXTURES, ids=[f.stem for f in FIXTURES])
def test_fixture_is_safe_on_production(source: Path, tmp_path: Path) -> None:
    expect_all = tomllib.loads(_expect_file(source).read_text())
    expect: dict[str, Any] = expect_all["expect"]
    imported = Imported(source, tmp_path, expect_all.get("params", {}))

    # --- what holds for every imported runbook -------------------------------------------
    for step in imported.runs():
        if step["will_run"] is False:
            continue
        lines = step["action"].splitlines()
        assert not any(line.startswith(("$ ", "> ")) for line in lines), step
        if step["changes_things"]:
            # a change runs only after a human confirmed the very command
            assert step["confirm"] and step["confirm"][0] == f"run: {step['action']}", step
    for name, plan in imported.plans.items():
        runbook = imported.spec.runbooks[name]
        for param, decl in runbook.params.items():
            if not decl.choices:
                continue
            taken = {
                s["id"] for s in plan["steps"] if f"params.{param} ==" in (s["condition"] or "")
            }
            running = {s["id"] for s in plan["steps"] if s["id"] in taken and s["will_run"]}
            branches = {
                c
                for c in decl.choices
                for s in plan["steps"]
                if s["id"] in running and f"'{c}'" in (s["condition"] or "")
            }
            assert len(branches) <= 1, (name, param, branches)

    # --- what this runbook's author meant (written by hand) ------------------------------
    for text in expect.get("read_only", []):
        for step in imported.with_text(text):
            assert step["kind"] == "run" and not step["changes_things"], step
            assert step["confirm"] is None, step
    for text in expect.get("confirm", []):
        for step in imported.with_text(text):
            assert step["kind"] == "run" and step["confirm"], step
            assert text in step["confirm"][0], step
    for text in expect.get("irreversible", []):
        for step in imported.with_text(text):
            assert step["irreversible"] and step["confirm"], step
    for text in expect.get("gate", []):
        steps = imported.with_text(text)
        assert all(s["kind"] == "gate" for s in steps), steps
    for text in expect.get("never_run", []):
        for step in imported.steps():
            if step["kind"] in ("run", "check"):
                assert text not in step["action"], step
        for check in imported.spec.checks.values():
            assert text not in check.config.http
    for text in expect.get("skipped", []):
        for step in imported.with_text(text):
            assert step["will_run"] is False, step
    for text in expect.get("runs", []):
        assert any(s["will_run"] is True for s in imported.with_text(text)), text
    for text in expect.get("whole", []):
        assert any(text in s["action"] for s in imported.runs()), text
    for text in expect.get("report", []):
        assert text in imported.report, text
    env = imported.spec.env
    for name in expect.get("env_required", []):
        assert env[name].required, name
    for name in expect.get("env_optional", []):
        assert not env[name].required, name
    for name in expect.get("env_secret", []):
        assert env[name].secret, name
    for name in expect.get("env_present", []):
        assert name in env, name
    for name in expect.get("env_absent", []):
        assert name not in env, name
    for param in expect.get("params", []):
        assert any(param in r.params for r in imported.spec.runbooks.values()), param
    for text, directory in expect.get("dirs", {}).items():
        for name, plan in imported.plans.items():
            for step in plan["steps"]:
                if text in step["action"] or text in _items(step):
                    assert (imported.spec_step(step["id"], name).dir or "") == directory, step
    if "check_expect" in expect:
        wanted = expect["check_expect"]["json"]
        expects = [c.config.expect for c in imported.spec.checks.values()]
        assert any((e.json_ or {}).items() >= wanted.items() for e in expects), expects

    # --- the report counts every class, and lists what mapped to nothing ------------------
    counts = imported.summary["classes"]
    assert set(counts) == {
        "read-only",
        "changes",
        "destructive",
        "never-ends",
        "interactive",
        "notes",
    }
    destructive = sum(1 for s in imported.runs() if s["irreversible"])
    assert counts["destructive"] == destructive
