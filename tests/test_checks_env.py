"""``opsbook check env`` on seed 000's contract: each planted mistake gives its finding and exit
code, and no planted value ever appears in any output (text, --json, stderr)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from conftest import run_cli
from fixtures.checks.builder import (
    Project,
    good_values,
    make_project,
    stripe_live_key,
    supabase_jwt,
)
from opsbook.checks.contract import check_env
from opsbook.errors import UsageError
from opsbook.spec.loader import load_spec


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """Seed 000's contract with a staging env file that satisfies it (fresh random values)."""
    made = make_project(tmp_path / "shop")
    made.write_env(".env.staging", good_values(random.Random()))
    return made


def run_check(
    project: Project, *args: str, env: dict[str, str] | None = None
) -> tuple[int, str, dict]:
    """Run `check env` as text and as --json; assert no planted value leaks into either."""
    text = run_cli("check", "env", *args, cwd=project.root, env=env)
    as_json = run_cli("check", "env", *args, "--json", cwd=project.root, env=env)
    assert text.returncode == as_json.returncode
    everything = text.stdout + text.stderr + as_json.stdout + as_json.stderr
    leaked = [v for v in project.planted if v in everything]
    assert not leaked, f"values leaked into output: {len(leaked)}"
    return text.returncode, text.stdout + text.stderr, json.loads(as_json.stdout)


def codes(report: dict, severity: str = "error") -> dict[str, str | None]:
    return {f["variable"]: f["code"] for f in report["findings"] if f["severity"] == severity}


def test_a_good_environment_passes(project: Project) -> None:
    rc, text, report = run_check(project, "--env", "staging")
    assert rc == 0, text
    assert report["ok"] is True
    assert codes(report) == {}
    assert codes(report, "info") == {"POSTHOG_HOST": "default_applied"}
    assert "✓ check env passed" in text
    statuses = {v["name"]: v["status"] for v in report["variables"]}
    assert statuses["POSTHOG_HOST"] == "default"
    assert statuses["SUPABASE_SERVICE_ROLE_KEY"] == "set"
    assert len(statuses) == 8


def test_missing_required_variable(project: Project) -> None:
    values = good_values(random.Random())
    del values["SUPABASE_SERVICE_ROLE_KEY"]
    project.write_env(".env.staging", values)
    rc, text, report = run_check(project, "-e", "staging")
    assert rc == 1
    assert codes(report) == {"SUPABASE_SERVICE_ROLE_KEY": "missing_required"}
    assert "error: check env found 1 error" in text


def test_pattern_mismatch(project: Project) -> None:
    values = good_values(random.Random())
    values["POSTHOG_API_KEY"] = "phx_" + values["POSTHOG_API_KEY"][4:]  # pragma: allowlist secret
    project.write_env(".env.staging", values)
    rc, _, report = run_check(project, "-e", "staging")
    assert rc == 1
    assert codes(report) == {"POSTHOG_API_KEY": "pattern_mismatch"}  # pragma: allowlist secret
    assert report["findings"][0]["message"].count("'^phc_'") == 1


def test_stripe_live_key_in_a_next_public_variable(project: Project) -> None:
    values = good_values(random.Random())
    values["NEXT_PUBLIC_SUPABASE_ANON_KEY"] = stripe_live_key(random.Random())
    project.write_env(".env.staging", values)
    rc, text, report = run_check(project, "-e", "staging")
    assert rc == 1
    assert codes(report) == {"NEXT_PUBLIC_SUPABASE_ANON_KEY": "public_secret_value"}
    assert "Stripe live key" in text


def test_service_role_key_pasted_into_the_anon_key(project: Project) -> None:
    values = good_values(random.Random())
    values["NEXT_PUBLIC_SUPABASE_ANON_KEY"] = values["SUPABASE_SERVICE_ROLE_KEY"]
    project.write_env(".env.staging", values)
    rc, _, report = run_check(project, "-e", "staging")
    assert rc == 1
    message = report["findings"][0]["message"]
    assert codes(report) == {"NEXT_PUBLIC_SUPABASE_ANON_KEY": "public_secret_value"}
    assert "Supabase service_role key" in message
    assert "the value of secret SUPABASE_SERVICE_ROLE_KEY" in message


def test_the_real_anon_key_is_not_a_finding(project: Project) -> None:
    values = good_values(random.Random())
    values["NEXT_PUBLIC_SUPABASE_ANON_KEY"] = supabase_jwt(random.Random(), "anon")
    project.write_env(".env.staging", values)
    rc, _, report = run_check(project, "-e", "staging")
    assert rc == 0
    assert codes(report) == {}


def test_a_public_variable_declared_secret(project: Project) -> None:
    spec = project.root / "opsbook.yaml"
    text = spec.read_text().replace(
        "  NEXT_PUBLIC_SUPABASE_ANON_KEY:\n    required: true\n",
        "  NEXT_PUBLIC_SUPABASE_ANON_KEY:\n    required: true\n    secret: true\n",
    )
    spec.write_text(text)
    rc, _, report = run_check(project, "-e", "staging")
    assert rc == 1
    assert codes(report) == {"NEXT_PUBLIC_SUPABASE_ANON_KEY": "public_secret"}


def test_undeclared_variable_is_a_warning(project: Project) -> None:
    values = good_values(random.Random())
    values["STRIPE_WEBHOOK_SECRET"] = "whsec_" + "x1y2z3" * 5  # pragma: allowlist secret
    project.write_env(".env.staging", values)
    rc, text, report = run_check(project, "-e", "staging")
    assert rc == 0
    warnings = codes(report, "warning")
    assert warnings == {"STRIPE_WEBHOOK_SECRET": "undeclared"}  # pragma: allowlist secret
    row = next(v for v in report["variables"] if v["name"] == "STRIPE_WEBHOOK_SECRET")
    assert row["status"] == "undeclared" and row["length"] == 36
    assert "warning undeclared: STRIPE_WEBHOOK_SECRET" in text


def test_empty_values(project: Project) -> None:
    values = good_values(random.Random())
    values["SENTRY_DSN"] = ""
    values["OPENAI_API_KEY"] = ""
    project.write_env(".env.staging", values)
    rc, _, report = run_check(project, "-e", "staging")
    assert rc == 1
    assert codes(report) == {"SENTRY_DSN": "empty_value"}
    assert codes(report, "info")["OPENAI_API_KEY"] == "empty_value"  # pragma: allowlist secret


def test_secrets_show_length_and_fingerprint_only(project: Project) -> None:
    _, _, first = run_check(project, "-e", "staging")
    _, _, again = run_check(project, "-e", "staging")
    rows = {v["name"]: v for v in first["variables"]}
    secret = rows["SUPABASE_SERVICE_ROLE_KEY"]
    assert secret["secret"] is True
    assert isinstance(secret["length"], int) and len(secret["fingerprint"]) == 12
    assert "fingerprint" not in rows["NEXT_PUBLIC_SUPABASE_URL"]  # plain vars: name and status
    # The key persists in .opsbook/, so fingerprints are stable from run to run.
    assert again["variables"] == first["variables"]
    assert (project.root / ".opsbook" / "fingerprint.key").stat().st_mode & 0o077 == 0


def test_precedence_vars_over_env_file_over_process_over_default(project: Project) -> None:
    values = good_values(random.Random())
    values["NEXT_PUBLIC_SUPABASE_URL"] = "https://fromfile.supabase.co"
    project.write_env(".env.staging", values)
    process = {"POSTHOG_HOST": "https://eu.posthog.com", "SENTRY_DSN": "not-a-dsn"}
    report = check_env(load_spec(project.root / "opsbook.yaml"), "staging", process)
    sources = {v.name: v.source for v in report.variables}
    assert sources["NEXT_PUBLIC_SUPABASE_URL"] == "vars"  # vars beat the env file
    assert sources["SENTRY_DSN"] == "env_file"  # the file beats the shell
    assert sources["POSTHOG_HOST"] == "process"  # the shell beats the default
    assert report.ok


def test_process_environment_fills_a_gap(project: Project) -> None:
    values = good_values(random.Random())
    service_key = values.pop("SUPABASE_SERVICE_ROLE_KEY")
    project.write_env(".env.staging", values)
    project.planted.add(service_key)
    rc, _, report = run_check(
        project, "-e", "staging", env={"SUPABASE_SERVICE_ROLE_KEY": service_key}
    )
    assert rc == 0
    row = next(v for v in report["variables"] if v["name"] == "SUPABASE_SERVICE_ROLE_KEY")
    assert row["source"] == "process"


def test_missing_env_file_is_a_warning_not_a_crash(project: Project) -> None:
    rc, text, report = run_check(project, "-e", "production")
    assert rc == 1  # every required variable is missing
    assert codes(report, "warning") == {None: "env_file_missing"}
    assert report["env_file_found"] is False
    assert "Traceback" not in text


def test_unknown_environment_exits_2(project: Project) -> None:
    result = run_cli("check", "env", "-e", "prod", cwd=project.root)
    assert result.returncode == 2
    assert "unknown environment 'prod'" in result.stderr
    assert "staging, production" in result.stderr
    with pytest.raises(UsageError):
        check_env(load_spec(project.root / "opsbook.yaml"), "prod", {})


def test_check_all_runs_every_check(project: Project) -> None:
    values = good_values(random.Random())
    project.write_env(".env.production", values)
    project.write_env(".env.staging", values)  # the same credentials in both: shared secrets
    result = run_cli("check", "all", "-e", "production", "--json", cwd=project.root)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    by_check = {r["check"]: r for r in report["checks"]}
    assert set(by_check) == {"env", "env-diff", "dotenv-example", "secrets"}
    assert by_check["env"]["ok"] and by_check["dotenv-example"]["ok"] and by_check["secrets"]["ok"]
    shared = {f["variable"] for f in by_check["env-diff"]["findings"]}
    assert {f["code"] for f in by_check["env-diff"]["findings"]} == {"shared_secret"}
    assert "SUPABASE_SERVICE_ROLE_KEY" in shared and "OPENAI_API_KEY" in shared
    text = run_cli("check", "all", "-e", "production", cwd=project.root)
    everything = result.stdout + result.stderr + text.stdout + text.stderr
    assert not [v for v in project.planted if v in everything]
    assert "✗ check all failed (environment production)" in text.stdout


def test_environment_vars_are_not_reported_as_undeclared(tmp_path: Path) -> None:
    """vars are declared in opsbook.yaml itself; only strays from env files are undeclared."""
    from opsbook.spec.loader import load_spec

    (tmp_path / "opsbook.yaml").write_text(
        "version: 1\nproject: p\n"
        "environments:\n  local:\n    env_file: .env\n    vars: {BASE_URL: 'http://127.0.0.1:1'}\n"
        "env:\n  TOKEN: {required: true, secret: true}\n"
        "runbooks:\n  r:\n    steps:\n      - {id: env, check: env}\n"
    )
    (tmp_path / ".env").write_text("TOKEN=abcdefgh\nSTRAY=1\n")
    report = check_env(load_spec(tmp_path / "opsbook.yaml"), "local", process_env={})
    undeclared = [f.variable for f in report.findings if f.code == "undeclared"]
    assert undeclared == ["STRAY"]
