"""``opsbook check env-diff``: the four categories, shared secrets, and no values in output."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from conftest import run_cli
from fixtures.checks.builder import Project, good_values, make_project


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """Staging and production env files that differ in every way env-diff reports."""
    made = make_project(tmp_path / "shop")
    staging = good_values(random.Random())
    production = good_values(random.Random())
    production["NEXT_PUBLIC_SENTRY_DSN"] = staging["NEXT_PUBLIC_SENTRY_DSN"]  # identical
    production["SUPABASE_SERVICE_ROLE_KEY"] = staging["SUPABASE_SERVICE_ROLE_KEY"]  # shared!
    del production["OPENAI_API_KEY"]  # only in staging
    production["STRIPE_WEBHOOK_SECRET"] = (
        "whsec_" + str(random.random())[2:]
    )  # only in prod  # pragma: allowlist secret
    made.write_env(".env.staging", staging)
    made.write_env(".env.production", production)
    return made


def diff(project: Project, *args: str) -> tuple[int, str, dict]:
    text = run_cli("check", "env-diff", *args, cwd=project.root)
    as_json = run_cli("check", "env-diff", *args, "--json", cwd=project.root)
    assert text.returncode == as_json.returncode
    everything = text.stdout + text.stderr + as_json.stdout + as_json.stderr
    assert not [v for v in project.planted if v in everything], "a value leaked"
    return text.returncode, text.stdout + text.stderr, json.loads(as_json.stdout)


def test_four_categories_between_environments(project: Project) -> None:
    rc, text, report = diff(project, "staging", "production")
    assert rc == 1  # the shared service-role key
    assert report["only_a"] == ["OPENAI_API_KEY"]
    assert report["only_b"] == ["STRIPE_WEBHOOK_SECRET"]
    assert report["identical"] == [
        "NEXT_PUBLIC_SENTRY_DSN",
        "POSTHOG_HOST",
        "SUPABASE_SERVICE_ROLE_KEY",
    ]
    assert report["different"] == [
        "NEXT_PUBLIC_SUPABASE_ANON_KEY",
        "NEXT_PUBLIC_SUPABASE_URL",
        "POSTHOG_API_KEY",
        "SENTRY_DSN",
    ]
    errors = [(f["code"], f["variable"]) for f in report["findings"] if f["severity"] == "error"]
    assert errors == [("shared_secret", "SUPABASE_SERVICE_ROLE_KEY")]  # not the public DSN
    warnings = {
        (f["code"], f["variable"]) for f in report["findings"] if f["severity"] == "warning"
    }
    assert warnings == {("only_in_a", "OPENAI_API_KEY"), ("only_in_b", "STRIPE_WEBHOOK_SECRET")}
    assert "only in staging" in text and "only in production" in text


def test_fingerprints_match_exactly_when_values_match(project: Project) -> None:
    _, _, report = diff(project, "staging", "production")
    rows = {r["name"]: r for r in report["variables"]}
    same = rows["SUPABASE_SERVICE_ROLE_KEY"]
    assert same["a_fingerprint"] == same["b_fingerprint"]
    other = rows["SENTRY_DSN"]
    assert other["a_fingerprint"] != other["b_fingerprint"]
    assert "a_fingerprint" not in rows["NEXT_PUBLIC_SUPABASE_URL"]  # vars are not secret


def test_two_env_files_by_path(project: Project) -> None:
    rc, _, report = diff(project, ".env.staging", ".env.production")
    assert rc == 1
    assert report["a"] == ".env.staging"
    assert report["only_a"] == ["OPENAI_API_KEY"]
    # Files hold no defaults and no vars: those two are absent from both sides.
    assert "POSTHOG_HOST" not in report["identical"]
    assert "SUPABASE_SERVICE_ROLE_KEY" in report["identical"]


def test_no_shared_secret_passes(project: Project) -> None:
    production = good_values(random.Random())
    project.write_env(".env.production", production)
    rc, text, report = diff(project, "staging", "production")
    assert [f for f in report["findings"] if f["severity"] == "error"] == []
    assert rc == 0
    assert "✓ check env-diff passed" in text


def test_the_shell_does_not_make_secrets_look_shared(project: Project) -> None:
    del_key = good_values(random.Random())
    project.write_env(".env.production", {"SENTRY_DSN": del_key["SENTRY_DSN"]})
    result = run_cli(
        "check",
        "env-diff",
        "staging",
        "production",
        "--json",
        cwd=project.root,
        env={"OPENAI_API_KEY": "sk-proj-" + "q" * 40},  # pragma: allowlist secret
    )
    report = json.loads(result.stdout)
    assert "OPENAI_API_KEY" in report["only_a"]  # not filled into production from the shell


def test_unknown_side_exits_2(project: Project) -> None:
    result = run_cli("check", "env-diff", "staging", "prod", cwd=project.root)
    assert result.returncode == 2
    assert "'prod' is neither an environment" in result.stderr
    assert "Traceback" not in result.stderr
