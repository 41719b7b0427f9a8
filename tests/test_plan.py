"""opsbook plan: waves, markers, params, masking; runs nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import FIXTURES, run_cli
from opsbook.errors import ParamError, UsageError
from opsbook.plan import make_plan, parse_param_args
from opsbook.spec.loader import load_spec

SECRET_DB = "postgres://app:Zq9-very-secret-pw@db.internal/app"  # pragma: allowlist secret
SECRET_STRIPE = "sk_" + "test_4eC39HqLyjWDarjtT1zdp7dc"  # pragma: allowlist secret


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project directory holding the valid fixture and an env file with secret values."""
    (tmp_path / "opsbook.yaml").write_text((FIXTURES / "spec" / "valid.yaml").read_text())
    (tmp_path / ".env.local").write_text(
        f"DATABASE_URL={SECRET_DB}\nSTRIPE_SECRET_KEY={SECRET_STRIPE}\nSENTRY_DSN=https://k@o1.ingest/1\n"
    )
    return tmp_path


def test_waves_respect_needs_and_top_to_bottom_default(project: Path) -> None:
    plan = make_plan(load_spec(project / "opsbook.yaml"), "release", "local", {"version": "2"})
    assert plan.waves == [
        ["env", "lint", "test"],
        ["window"],
        ["backup"],
        ["migrate"],
        ["deploy"],
        ["verify"],
        ["soak"],
    ]
    assert plan.step("window").needs == ["test"]  # omitted needs: after the step above
    assert plan.step("lint").needs == []


def test_markers_rollback_irreversible_gates(project: Path) -> None:
    plan = make_plan(load_spec(project / "opsbook.yaml"), "release", "production", {"version": "2"})
    deploy = plan.step("deploy")
    assert deploy.rollback == "./scripts/deploy.sh previous"
    assert deploy.after_irreversible is True
    assert plan.irreversible_point == "migrate"
    assert plan.step("migrate").irreversible and not plan.step("backup").after_irreversible
    assert plan.gates == ["window"] and plan.step("window").will_run is True
    assert plan.step("verify").changes_things is False
    assert plan.step("deploy").action == './scripts/deploy.sh "2"'
    assert plan.locks_environment is True


def test_if_decided_statically_or_at_run_time(project: Path) -> None:
    loaded = load_spec(project / "opsbook.yaml")
    local = make_plan(loaded, "release", "local", {"version": "2"})
    assert local.step("window").will_run is False
    assert local.gates == []
    diagnose = make_plan(loaded, "diagnose", "local", {})
    assert diagnose.step("report").will_run is None
    assert diagnose.locks_environment is False


def test_secret_values_are_masked(project: Path) -> None:
    plan = make_plan(load_spec(project / "opsbook.yaml"), "release", "local", {"version": "2"})
    text = json.dumps(plan.to_dict())
    assert SECRET_DB not in text
    assert plan.step("backup").action == './scripts/backup.sh "${{ run.id }}" "***"'


def test_params_missing_unknown_and_malformed(project: Path) -> None:
    loaded = load_spec(project / "opsbook.yaml")
    with pytest.raises(ParamError, match="missing required param: version; pass -p version=VALUE"):
        make_plan(loaded, "release", "local", {})
    with pytest.raises(ParamError, match="unknown param 'verison'; did you mean 'version'"):
        make_plan(loaded, "release", "local", {"version": "1", "verison": "2"})
    with pytest.raises(ParamError, match="is not KEY=VALUE"):
        parse_param_args(["version"])
    assert parse_param_args(["note=a=b"]) == {"note": "a=b"}
    with pytest.raises(UsageError, match="unknown runbook 'relase'; did you mean 'release'"):
        make_plan(loaded, "relase", "local", {})
    with pytest.raises(UsageError, match="unknown environment 'prod'"):
        make_plan(loaded, "release", "prod", {"version": "1"})


def test_cli_plan_json_has_every_step_and_no_env_values(project: Path) -> None:
    result = run_cli("plan", "release", "--env", "local", "-p", "version=2", "--json", cwd=project)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert [s["id"] for s in document["steps"]] == [
        "env",
        "lint",
        "test",
        "window",
        "backup",
        "migrate",
        "deploy",
        "verify",
        "soak",
    ]
    for step in document["steps"]:
        assert {"wave", "rollback", "irreversible", "after_irreversible"} <= set(step)
    output = result.stdout + result.stderr
    for value in (SECRET_DB, SECRET_STRIPE, "Zq9-very-secret-pw", "https://k@o1.ingest/1"):
        assert value not in output


def test_cli_plan_text_and_missing_param_exit_2(project: Path) -> None:
    result = run_cli("plan", "release", "--env", "production", "-p", "version=3", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "point of no return: migrate" in result.stdout
    assert "gates a human must answer: window" in result.stdout
    missing = run_cli("plan", "release", "--env", "local", cwd=project)
    assert missing.returncode == 2
    assert "missing required param: version" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_read_only_run_steps_do_not_count_as_changes(tmp_path: Path) -> None:
    (tmp_path / "opsbook.yaml").write_text(
        "version: 1\nproject: p\nenvironments: {local: {}}\nrunbooks:\n"
        "  diag:\n    steps:\n"
        "      - {id: q, run: psql -c 'select 1', read_only: true}\n"
        "      - {id: w, wait: 1s}\n"
        "  fix:\n    steps:\n"
        "      - {id: q, run: psql -c 'select 1', read_only: true}\n"
        "      - {id: kill, run: psql -c 'select pg_terminate_backend(1)'}\n"
    )
    loaded = load_spec(tmp_path / "opsbook.yaml")
    diag = make_plan(loaded, "diag", "local", {})
    assert diag.locks_environment is False
    assert diag.step("q").changes_things is False
    fix = make_plan(loaded, "fix", "local", {})
    assert fix.locks_environment is True
    assert fix.step("kill").changes_things is True
