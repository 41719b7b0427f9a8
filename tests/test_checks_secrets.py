"""``opsbook check secrets``: planted Stripe live key and contract secret are found, gitignored
files are never read, the baseline accepts known findings, and no value is ever printed."""

from __future__ import annotations

import base64
import json
import random
import string
from pathlib import Path

import pytest

from conftest import run_cli
from fixtures.checks.builder import Project, good_values, make_project, stripe_live_key


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """Seed 000's project with a production env file (gitignored, as it should be)."""
    made = make_project(tmp_path / "shop")
    made.write_env(".env.production", good_values(random.Random()))
    made.write("src/app.ts", "export const ok = true;\n")
    return made


def production_value(project: Project, name: str) -> str:
    for line in (project.root / ".env.production").read_text().splitlines():
        if line.startswith(name + "="):
            return line.split("=", 1)[1]
    raise KeyError(name)


def scan(project: Project, *args: str) -> tuple[int, str, dict]:
    text = run_cli("check", "secrets", *args, cwd=project.root)
    as_json = run_cli("check", "secrets", *args, "--json", cwd=project.root)
    assert text.returncode == as_json.returncode, text.stdout + text.stderr
    everything = text.stdout + text.stderr + as_json.stdout + as_json.stderr
    assert not [v for v in project.planted if v in everything], "a value leaked"
    return text.returncode, text.stdout + text.stderr, json.loads(as_json.stdout)


def found(report: dict) -> set[tuple[str, str]]:
    return {(f["code"], f["file"]) for f in report["findings"] if f["severity"] == "error"}


def plant(project: Project) -> None:
    key = stripe_live_key(random.Random())
    project.write("src/billing.ts", f'const stripe = new Stripe("{key}");\n', key)
    service = production_value(project, "SUPABASE_SERVICE_ROLE_KEY")
    project.write("scripts/admin.py", f'KEY = "{service}"\n', service)
    # A gitignored build output holding a live key: never read.
    ignored = stripe_live_key(random.Random())
    project.write("dist/bundle.js", f'var k="{ignored}";\n', ignored)
    (project.root / ".gitignore").write_text((project.root / ".gitignore").read_text() + "dist/\n")


@pytest.mark.parametrize("git", [True, False], ids=["git-ls-files", "gitignore-walk"])
def test_finds_planted_secrets_and_skips_ignored_files(project: Project, git: bool) -> None:
    plant(project)
    if git:
        project.git_init()
    rc, text, report = scan(project)
    assert rc == 1
    assert report["listing"] == ("git" if git else "gitignore")
    assert found(report) == {
        ("stripe_live_key", "src/billing.ts"),
        ("contract_secret", "scripts/admin.py"),
    }
    contract = next(f for f in report["findings"] if f["code"] == "contract_secret")
    assert contract["variable"] == "SUPABASE_SERVICE_ROLE_KEY"
    assert contract["line"] == 1
    assert "dist/" not in text and ".env.production" not in text
    assert "src/billing.ts:1: holds a Stripe live key" in text


def test_a_tree_split_over_processes_finds_each_secret_at_its_file_and_line(
    project: Project,
) -> None:
    """Enough files that detect-secrets runs in several forked processes: each planted value is
    still reported once, at its own file and line, in file order."""
    from opsbook.checks.secrets import PARALLEL_MIN_FILES

    rng = random.Random(7)
    planted = {}
    for i in range(PARALLEL_MIN_FILES * 4):
        body = "".join(f"value_{n} = {n}\n" for n in range(i % 5))
        if i % 9 == 4:
            key = "AKIA" + "".join(rng.choice(string.ascii_uppercase + "234567") for _ in range(16))
            body += f'aws_key = "{key}"\n'
            planted[f"gen/m{i:03}.py"] = body.count("\n")
            project.write(f"gen/m{i:03}.py", body, key)
        else:
            project.write(f"gen/m{i:03}.py", body)
    project.git_init()
    rc, _, report = scan(project)
    assert rc == 1
    detected = [
        (f["file"], f["line"]) for f in report["findings"] if f["code"] == "detected_secret"
    ]
    assert detected == sorted(planted.items())
    assert report["files_scanned"] >= PARALLEL_MIN_FILES * 4


def test_a_clean_project_passes(project: Project) -> None:
    project.git_init()
    rc, text, report = scan(project)
    assert rc == 0, text
    assert report["files_scanned"] >= 4
    assert "✓ check secrets passed" in text


def test_a_committed_env_file_is_found(project: Project) -> None:
    gitignore = project.root / ".gitignore"
    gitignore.write_text(gitignore.read_text().replace(".env.production\n", ""))
    rc, _, report = scan(project)
    assert rc == 1
    assert any(f["file"] == ".env.production" for f in report["findings"])


def test_encoded_contract_secret(project: Project) -> None:
    service = production_value(project, "SUPABASE_SERVICE_ROLE_KEY")
    encoded = base64.b64encode(service.encode()).decode()
    project.write("k8s/secret.yaml", f"data:\n  key: {encoded}\n", encoded)
    rc, _, report = scan(project)
    assert rc == 1
    assert ("contract_secret", "k8s/secret.yaml") in found(report)


def test_secret_looking_value_in_a_public_variable(project: Project) -> None:
    key = stripe_live_key(random.Random())
    project.write("apps/web/.env.local.example", f"NEXT_PUBLIC_STRIPE_KEY={key}\n", key)
    rc, _, report = scan(project)
    assert rc == 1
    finding = next(f for f in report["findings"] if f["file"] == "apps/web/.env.local.example")
    assert finding["code"] == "public_secret_value"
    assert finding["variable"] == "NEXT_PUBLIC_STRIPE_KEY"


def test_baseline_accepts_known_findings_only(project: Project) -> None:
    plant(project)
    project.git_init()
    rc, text, report = scan(project, "--update-baseline")
    assert rc == 0, text
    assert report["baseline_written"] and report["accepted"] == 2
    baseline = project.root / ".opsbook-secrets-baseline.json"
    stored = baseline.read_text()
    assert not [v for v in project.planted if v in stored]
    assert len(json.loads(stored)["accepted"]) == 2

    # Accepted findings stay accepted when their line moves.
    billing = project.root / "src/billing.ts"
    billing.write_text("// moved down\n" + billing.read_text())
    rc, text, report = scan(project)
    assert rc == 0, text
    assert report["accepted"] == 2 and report["findings"] == []
    assert "2 accepted" in text

    # A new secret is reported; the accepted ones are not.
    key = stripe_live_key(random.Random())
    project.write("src/refunds.ts", f'const k = "{key}";\n', key)
    rc, _, report = scan(project)
    assert rc == 1
    assert found(report) == {("stripe_live_key", "src/refunds.ts")}


def test_allowlist_pragma(project: Project) -> None:
    key = stripe_live_key(random.Random())
    line = f'const k = "{key}"; // pragma: allowlist secret\n'
    project.write("src/test-helpers.ts", line, key)
    rc, text, _ = scan(project)
    assert rc == 0, text


def test_a_single_file(project: Project) -> None:
    key = stripe_live_key(random.Random())
    project.write("notes.md", f"live key: {key}\n", key)
    rc, _, report = scan(project, "notes.md")
    assert rc == 1
    assert report["files_scanned"] == 1 and report["listing"] == "file"


def test_missing_path_exits_2(project: Project) -> None:
    result = run_cli("check", "secrets", "nowhere", cwd=project.root)
    assert result.returncode == 2
    assert "nowhere: no such file or directory" in result.stderr


def test_a_corrupt_baseline_exits_2(project: Project) -> None:
    (project.root / ".opsbook-secrets-baseline.json").write_text("{not json")
    result = run_cli("check", "secrets", cwd=project.root)
    assert result.returncode == 2
    assert "not an opsbook secrets baseline" in result.stderr
