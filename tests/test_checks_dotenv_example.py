"""``opsbook check dotenv-example``: the contract and .env.example agree, both ways."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from conftest import run_cli
from fixtures.checks.builder import Project, make_project, stripe_live_key


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return make_project(tmp_path / "shop")


def check(project: Project, *args: str) -> tuple[int, str, dict]:
    text = run_cli("check", "dotenv-example", *args, cwd=project.root)
    as_json = run_cli("check", "dotenv-example", *args, "--json", cwd=project.root)
    assert text.returncode == as_json.returncode
    everything = text.stdout + text.stderr + as_json.stdout + as_json.stderr
    assert not [v for v in project.planted if v in everything], "a value leaked"
    return text.returncode, text.stdout + text.stderr, json.loads(as_json.stdout)


def test_the_seed_example_agrees(project: Project) -> None:
    rc, text, report = check(project)
    assert rc == 0, text
    assert report["findings"] == []
    assert report["file"] == ".env.example"


def test_disagreement_both_ways(project: Project) -> None:
    example = project.root / ".env.example"
    lines = example.read_text().splitlines()
    kept = [line for line in lines if not line.startswith("OPENAI_API_KEY=")]
    example.write_text("\n".join([*kept, "export LEGACY_API_URL=http://old", ""]))
    rc, text, report = check(project)
    assert rc == 1
    assert report["missing_from_example"] == ["OPENAI_API_KEY"]
    assert report["not_in_contract"] == ["LEGACY_API_URL"]
    legacy = next(f for f in report["findings"] if f["variable"] == "LEGACY_API_URL")
    assert legacy["line"] == len(kept) + 1
    assert f".env.example:{len(kept) + 1}: LEGACY_API_URL is in .env.example" in text


def test_a_real_key_in_the_example_is_an_error(project: Project) -> None:
    key = stripe_live_key(random.Random())
    project.write(".env.other", "POSTHOG_API_KEY=\nOPENAI_API_KEY=" + key + "\n", key)
    rc, _, report = check(project, ".env.other")
    assert rc == 1
    assert ("example_secret_value", "OPENAI_API_KEY") in {
        (f["code"], f["variable"]) for f in report["findings"]
    }


def test_missing_file_exits_2(project: Project) -> None:
    (project.root / ".env.example").unlink()
    result = run_cli("check", "dotenv-example", cwd=project.root)
    assert result.returncode == 2
    assert ".env.example: no such file" in result.stderr
